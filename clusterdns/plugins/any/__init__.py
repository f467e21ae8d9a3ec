"""The `any` plugin: answer ANY queries with the RFC 8482 HINFO."""

"""The `file` plugin: authoritative answers from an RFC 1035 zone file, reloaded when it changes."""

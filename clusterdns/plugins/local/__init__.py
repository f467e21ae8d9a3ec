"""The `local` plugin: answer localhost and the loopback reverse zones here (RFC 6761)."""

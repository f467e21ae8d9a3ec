"""The `log` plugin: one query log line per answered query, in CoreDNS's formats."""

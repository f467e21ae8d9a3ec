"""The `autopath` plugin: server-side search-path completion for pods (one query instead of 8)."""

"""The `bind` plugin: the addresses a server block listens on."""

"""The `whoami` plugin: tell the client its own address, port and transport."""

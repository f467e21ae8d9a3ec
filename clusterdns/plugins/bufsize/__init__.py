"""The `bufsize` plugin: lower the EDNS UDP payload size clients advertise."""

"""The `prometheus` plugin: `/metrics` with CoreDNS's metric names, on localhost:9153."""

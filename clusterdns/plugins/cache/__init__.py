"""The `cache` plugin: CoreDNS's frontend cache for structured answers and foreign replies."""

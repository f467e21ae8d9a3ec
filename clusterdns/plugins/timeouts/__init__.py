"""The `timeouts` plugin: TCP read, write and idle timeouts and queries per connection."""

"""The `loadbalance` plugin: round-robin order of address records in answers."""

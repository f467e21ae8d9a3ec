"""The `minimal` plugin: successful answers without authority and additional records."""

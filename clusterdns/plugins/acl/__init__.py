"""The `acl` plugin: allow, block, filter or drop queries by source network and type."""

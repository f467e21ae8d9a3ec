"""The `forward` plugin: names outside the cluster zones go to upstream resolvers."""

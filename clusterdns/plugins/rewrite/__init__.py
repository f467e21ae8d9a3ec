"""The `rewrite` plugin: rewrite questions before the chain answers them, and the replies after."""

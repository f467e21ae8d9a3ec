"""The `loop` plugin: detects forwarding loops with a self-probe, and stops the process."""

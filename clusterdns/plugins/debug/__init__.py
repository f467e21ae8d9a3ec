"""The `debug` plugin: debug-level logs for the whole process."""

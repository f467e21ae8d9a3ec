"""The `health` plugin: `/health` on :8080, and the lameduck delay at shutdown."""

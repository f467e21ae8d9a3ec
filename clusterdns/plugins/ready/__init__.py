"""The `ready` plugin: `/ready` on :8181, 200 once every plugin that reports readiness is ready."""

"""Helpers for these plugin tests: shared with the other plugins' tests in tests/fakes."""

from tests.fakes.plugins import FakeClock, build_request, context, stanza

__all__ = ["FakeClock", "build_request", "context", "stanza"]

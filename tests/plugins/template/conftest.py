"""Helpers for the template tests: the rewrite tests' server and `dig` fixtures, reused."""

from tests.plugins.rewrite.conftest import cluster, serve

__all__ = ["cluster", "serve"]

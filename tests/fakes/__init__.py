"""Test doubles for the boundaries: the Kubernetes API, upstream resolvers, transports, clocks."""

"""Plugins of the handler chain, one folder per Corefile directive."""

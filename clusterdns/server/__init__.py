"""Sockets and the decode-route-encode path between them and the plugin chains."""

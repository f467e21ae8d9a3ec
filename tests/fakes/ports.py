"""A port free for both UDP and TCP on a loopback address, for servers started as processes."""

import socket


def free_port(family: socket.AddressFamily = socket.AF_INET, host: str = "127.0.0.1") -> int:
    """A port both UDP and TCP can bind on `host` now (the UDP pick may be taken for TCP)."""
    for _ in range(50):
        with socket.socket(family, socket.SOCK_DGRAM) as udp, socket.socket(family) as tcp:
            udp.bind((host, 0))
            port: int = udp.getsockname()[1]
            try:
                tcp.bind((host, port))
            except OSError:
                continue
            return port
    raise OSError("no port free for both UDP and TCP")

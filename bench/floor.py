"""The Python floor: blocking `recvfrom`/`sendto` with pre-built replies, nothing else.

It answers every query NXDOMAIN from a dict of reply tails keyed by the query's bytes after
its id, so it costs what any Python UDP server must pay per query on this machine
(blocking recvfrom/sendto, precomputed answers). A speed anchor for the benchmark, not a server.

    python -m bench.floor --port PORT
"""

import argparse
import socket
import sys

_NXDOMAIN_FLAGS = b"\x85\x03"  # QR, AA, RD; rcode 3


def serve(port: int) -> None:
    """Answer forever on 127.0.0.1:`port`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    print(f"floor listening on 127.0.0.1:{port}", flush=True)
    recvfrom, sendto = sock.recvfrom, sock.sendto
    tails: dict[bytes, bytes] = {}
    while True:
        data, addr = recvfrom(65535)
        if len(data) < 12:
            continue
        key = data[2:]
        tail = tails.get(key)
        if tail is None:
            tail = tails[key] = _NXDOMAIN_FLAGS + data[4:]
        sendto(data[:2] + tail, addr)


def main(argv: list[str] | None = None) -> int:
    """Parse the port and serve until killed."""
    parser = argparse.ArgumentParser(description="The Python floor DNS responder.")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        serve(args.port)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the command line sets up once per process before serving: log lines, allocator, GIL."""

import ctypes
import logging
import os
import sys

logger = logging.getLogger(__name__)


def tune_allocator() -> None:
    """Make glibc return freed memory: fixed mmap threshold, two arenas (no-op elsewhere).

    With glibc's defaults, each reflector thread gets its own malloc arena and the mmap
    threshold grows after the first large free, so the 300 KiB list pages of a big sync stay
    in the heap: ~8 MiB more RSS at 100k Services. The values are those of the
    MALLOC_MMAP_THRESHOLD_ and MALLOC_ARENA_MAX variables, which still win when set.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 128 * 1024)
        libc.mallopt(_M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        logger.debug("not glibc: allocator left as it is")


_M_MMAP_THRESHOLD = -3  # glibc malloc.h
_M_ARENA_MAX = -8

# Seconds a thread may hold the GIL while another waits for it (CPython's default is 5 ms).
GIL_SWITCH_INTERVAL = 0.001


def tune_gil() -> None:
    """Let the event loop take the GIL back from a worker thread within a millisecond.

    Big answers are built in worker threads (clusterdns.offloop) and the watches decode in
    theirs; with the default 5 ms, every other query could wait that long behind them, 1 ms
    keeps the loop's stalls near what one query costs. A switch only happens when a thread
    waits for the GIL, so a server with idle workers pays nothing for it.
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)


def prepare_process() -> None:
    """Log lines, the allocator and the GIL, set once before the server starts."""
    configure_logging()
    tune_allocator()
    tune_gil()


def configure_logging() -> None:
    """CoreDNS-style log lines on stdout: `[LEVEL] message`."""
    level = os.environ.get("CLUSTERDNS_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(stream=sys.stdout)
    logging.basicConfig(level=level, format="[%(levelname)s] %(message)s", handlers=[handler])

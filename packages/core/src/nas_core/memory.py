"""Let glibc keep and reuse freed memory: faster one-shot scoring on CPU (opt-in, process-wide).

Why: glibc's malloc serves a request above its mmap threshold with a fresh ``mmap`` and gives it
back with ``munmap`` when freed. The threshold adapts, but never above 32 MiB, and a one-shot
activation at the paper's evaluation batch is bigger (500 x 16 x 32 x 32 float32 = 32.8 MB).
So each such tensor, allocated once per op, costs a page fault and a zero fill for every 4 KiB
page before the op writes it. Serving every request from the heap (``M_MMAP_MAX = 0``) and not
returning its free top below 1 GiB to the system (``M_TRIM_THRESHOLD``) lets the next tensor reuse
the pages. Measured on our 2-core CPU (docs/benchmarks.md): one-shot scoring 15-26% faster.

PyTorch's CPU tuning guide gives the same advice as "use jemalloc or tcmalloc" (``LD_PRELOAD``);
this is the no-install equivalent with glibc's own ``mallopt``. It changes the allocator of the
whole process, so a library does not do it on import: the ``nas`` command calls it at start-up,
and Python users may. The price: the process keeps up to 1 GiB of freed memory resident.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # <malloc.h>
KEEP_BYTES = 1 << 30
GLIBC_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(KEEP_BYTES)}  # the same, for start-up
OPT_OUT = "NAS_DEFAULT_MALLOC"  # set to 1 to leave the allocator as it is


def reuse_freed_memory() -> bool:
    """Make glibc reuse freed memory instead of returning big blocks to the system.

    Returns whether this call applied it: not on other systems or C libraries (macOS, musl,
    Windows), not when ``NAS_DEFAULT_MALLOC=1``, and not when glibc is already told what to do by
    ``MALLOC_MMAP_MAX_`` or ``MALLOC_TRIM_THRESHOLD_`` (the user's, or inherited from a parent
    process that called this: the variables are set for child processes)."""
    if os.environ.get(OPT_OUT, "") not in ("", "0"):
        return False
    if any(name in os.environ for name in GLIBC_ENV):
        return False
    libc = _glibc()
    if libc is None or not (libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, KEEP_BYTES)):
        return False
    # glibc reads these at start-up: child processes (search workers) get the same setting.
    os.environ.update(GLIBC_ENV)
    return True


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") else None  # only glibc has it

"""`nas_core.memory.reuse_freed_memory`: glibc serves big tensors from its heap and keeps them.

Each check runs in a fresh interpreter: the setting is process-wide, and glibc reads its
environment variables at start-up."""

import os
import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")

# Where glibc put a 64 MB tensor (mapped afresh, or in the heap) and what it kept after the free;
# mallinfo2 (glibc >= 2.33): ten size_t counters.
SCRIPT = """
import ctypes, os, sys, torch
from nas_core.memory import reuse_freed_memory
applied = reuse_freed_memory() if sys.argv[1] == "reuse" else None
libc = ctypes.CDLL("libc.so.6")
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                      "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = MallInfo2
before = libc.mallinfo2().hblkhd  # bytes in blocks mapped on their own
x = torch.ones(16 * 2**20)
mapped = libc.mallinfo2().hblkhd - before
del x
kept = libc.mallinfo2().fordblks  # free bytes the heap kept
print(applied, mapped, kept, os.environ.get("MALLOC_MMAP_MAX_", "-"))
"""


def _run(mode: str, **env: str) -> tuple[str, int, int, str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "NAS_DEFAULT_MALLOC")}
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], env={**clean, **env}, check=True,
                         capture_output=True, text=True).stdout.split()
    return out[0], int(out[1]), int(out[2]), out[3]


@glibc
def test_big_tensors_come_from_the_heap_and_stay_there_when_freed():
    applied, mapped, kept, inherited = _run("reuse")
    assert applied == "True" and inherited == "0"  # child processes (search workers) get it too
    assert mapped < 2**20 and kept >= 64 * 10**6  # in the heap, and kept for the next tensor
    _, mapped, kept, _ = _run("default")
    assert mapped >= 64 * 10**6 and kept < 64 * 10**6  # glibc's default: a mapping of its own, unmapped


@glibc
def test_opt_out_and_user_settings_are_respected():
    applied, mapped, _, _ = _run("reuse", NAS_DEFAULT_MALLOC="1")
    assert applied == "False" and mapped >= 64 * 10**6
    applied, mapped, _, _ = _run("reuse", MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_=str(2**30))
    assert applied == "False" and mapped < 2**20  # the user's own glibc setting does the same


def test_other_systems_are_left_alone(monkeypatch):
    from nas_core import memory

    monkeypatch.setattr(memory.sys, "platform", "darwin")
    monkeypatch.delenv("MALLOC_MMAP_MAX_", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("NAS_DEFAULT_MALLOC", raising=False)
    assert memory.reuse_freed_memory() is False

"""How many CPU threads torch uses: a policy that a busy neighbour cannot stall.

torch runs each CPU operator on a team of OpenMP threads that wait for each other at the end of
every parallel region. On a shared machine (a laptop, a CI box) a CPU-bound process started from
another terminal takes a core; the kernel shares CPU between sessions (autogroup), so ``nice``
does not help, and one of our threads then waits for its core at every barrier while the other
spins. Measured on a 2-core machine (docs/benchmarks.md, ``benchmarks/threads.py``): stand-alone
training with 2 threads ran 289 images/s idle and 10 beside one busy process (30x slower); with
1 thread, 251 idle and 188 beside it; one-shot training 70 / 2 with 2 threads, 54 / 48 with 1.
No fixed count is good for both: 1 thread loses 23% of one-shot training on an idle machine.

So the policy ``auto`` (the ``nas`` command's default) watches: every second,
:meth:`ThreadWatch.tick` (called by the training and evaluation loops between steps) reads from
``/proc/stat`` how much CPU other processes took on the cores this process may use, and runs
torch on the cores they leave free: all of them on an idle machine, one fewer beside one busy
process. A change takes two readings in a row that agree, so a short burst changes nothing.
Without ``/proc/stat`` (macOS, Windows) ``auto`` keeps torch's default. An explicit
``OMP_NUM_THREADS`` (torchrun sets it to 1 for several processes) and a number (``--threads N``)
fix the count.

Results are bitwise reproducible for a fixed thread count (sums are split differently with
another count: about 1e-7 after a step). With ``auto`` the count can change while training when
a neighbour comes or goes; use ``--threads N`` where bitwise reproducibility matters.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import torch

from .errors import InputError

# torch's default before anything here changed it: the physical cores this process may use
# (or $OMP_NUM_THREADS when set).
DEFAULT_THREADS = torch.get_num_threads()
MAX_THREADS = 1024


def parse_threads(spec: str | int) -> int | None:
    """A whole number of threads (1 .. 1024), or None for ``"auto"``."""
    text = str(spec).strip().lower()
    if text == "auto":
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_THREADS:
        raise InputError(f"threads must be 'auto' or a whole number from 1 to {MAX_THREADS}, not {str(spec)!r}")
    return int(text)


def _read_cpu(cpus: list[int]) -> tuple[float, float, float] | None:
    """(seconds now, busy ticks of ``cpus`` by anyone, ticks of this process), or None without /proc."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
        with open("/proc/self/stat") as f:
            mine = f.read().rsplit(")", 1)[1].split()  # after "pid (comm)": state is field 3
    except OSError:
        return None
    wanted = {f"cpu{i}" for i in cpus}
    busy = 0
    for line in lines:
        name, *ticks = line.split()
        if name in wanted:  # user nice system idle iowait irq softirq steal ...
            values = [int(t) for t in ticks[:8]]
            busy += sum(values) - values[3] - values[4]
    return time.monotonic(), float(busy), float(int(mine[11]) + int(mine[12]))  # utime + stime


class ThreadWatch:
    """Sets torch's thread count to the cores that other processes leave free (policy ``auto``).

    ``tick()`` must run on the thread that runs torch (OpenMP's count is per calling thread); it
    costs a clock read except once a ``period``. ``read`` and ``apply`` are replaceable for tests.
    """

    def __init__(self, cores: int, period: float = 1.0,
                 read: Callable[[], tuple[float, float, float] | None] | None = None,
                 apply: Callable[[int], None] = torch.set_num_threads,
                 on_change: Callable[[int, int, float], None] | None = None) -> None:
        self.cores, self.period, self.apply, self.on_change = cores, period, apply, on_change
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(cores))
        self.read = read or (lambda: _read_cpu(cpus))
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.threads, self.pending, self.changes = cores, cores, 0
        self.last = self.read()
        self.next_at = time.monotonic() + period
        apply(cores)

    def tick(self) -> None:
        if self.last is None or time.monotonic() < self.next_at:
            return
        now = self.read()
        if now is None:
            return
        seconds = now[0] - self.last[0]
        others = ((now[1] - self.last[1]) - (now[2] - self.last[2])) / self.hz / max(seconds, 1e-3)
        self.last, self.next_at = now, now[0] + self.period
        wanted = self.wanted(others)
        if wanted != self.threads and wanted == self.pending:  # two readings in a row agree
            old, self.threads = self.threads, wanted
            self.changes += 1
            self.apply(wanted)
            if self.on_change:
                self.on_change(old, wanted, others)
        self.pending = wanted

    def wanted(self, others: float) -> int:
        """Threads for cores that other processes keep ``others`` of (in cores, measured)."""
        taken = math.floor(max(others, 0.0) + 0.5)  # a process that takes half a core or more
        return max(1, min(self.cores, self.cores - taken))


_watch: ThreadWatch | None = None


def apply_threads(spec: str | int = "auto",
                  on_change: Callable[[int, int, float], None] | None = None) -> int:
    """Set torch's intra-op threads by ``spec`` ("auto" or a number, see :func:`parse_threads`)
    and return the count now. ``auto`` starts a :class:`ThreadWatch` (Linux, no $OMP_NUM_THREADS)."""
    global _watch
    threads = parse_threads(spec)
    _watch = None
    if threads is None:
        threads = DEFAULT_THREADS
        if DEFAULT_THREADS > 1 and not os.environ.get("OMP_NUM_THREADS", "").strip():
            watch = ThreadWatch(DEFAULT_THREADS, on_change=on_change)
            _watch = watch if watch.last is not None else None
    torch.set_num_threads(threads)
    return threads


def tick() -> None:
    """Between training or evaluation steps: let the ``auto`` policy adapt (a no-op otherwise)."""
    if _watch is not None:
        _watch.tick()

"""The CPU thread policy (issue 14, section 6): ``auto`` runs torch on the cores other processes
leave free, checked every second; a number or $OMP_NUM_THREADS fixes the count."""

import os
import subprocess
import sys
import time

import pytest
import torch

from nas_core import threads
from nas_core.errors import InputError
from nas_core.threads import ThreadWatch, apply_threads, parse_threads


class FakeCpu:
    """/proc readings on demand: ``others`` cores busy with other processes, ``ours`` with us."""

    def __init__(self) -> None:
        self.t, self.busy, self.mine = 0.0, 0.0, 0.0

    def advance(self, others: float, ours: float = 1.0, seconds: float = 1.0, hz: int = 100) -> None:
        self.t += seconds
        self.busy += (others + ours) * seconds * hz
        self.mine += ours * seconds * hz

    def read(self):
        return self.t, self.busy, self.mine


def _watch(cores: int = 2):
    cpu, applied, changes = FakeCpu(), [], []
    watch = ThreadWatch(cores, period=0.0, read=cpu.read, apply=applied.append,
                        on_change=lambda old, new, others: changes.append((old, new)))
    watch.hz = 100
    return watch, cpu, applied, changes


def test_a_busy_neighbour_takes_a_thread_away_and_gives_it_back_when_it_leaves():
    watch, cpu, applied, changes = _watch(2)
    assert applied == [2]  # all cores on an idle machine
    for others in (0.05, 0.1, 0.0):  # background noise: no change
        cpu.advance(others, ours=2)
        watch.tick()
    assert watch.threads == 2 and changes == []
    cpu.advance(1.0)  # a neighbour: one reading is not enough (a burst changes nothing)
    watch.tick()
    assert watch.threads == 2
    cpu.advance(0.9)
    watch.tick()
    assert watch.threads == 1 and applied[-1] == 1 and changes == [(2, 1)]
    for _ in range(3):  # it stays while the neighbour does
        cpu.advance(1.0)
        watch.tick()
    assert watch.threads == 1
    cpu.advance(0.0)
    watch.tick()
    cpu.advance(0.02)
    watch.tick()
    assert watch.threads == 2 and changes == [(2, 1), (1, 2)]


@pytest.mark.parametrize(("cores", "others", "wanted"), [
    (2, 0.4, 2), (2, 0.6, 1), (2, 1.8, 1), (2, 5.0, 1), (8, 1.0, 7), (8, 2.6, 5), (8, -0.3, 8)])
def test_threads_are_the_cores_left_free(cores, others, wanted):
    assert _watch(cores)[0].wanted(others) == wanted


def test_the_watch_reads_this_machine(tmp_path):
    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat")
    t0, busy0, mine0 = threads._read_cpu(sorted(os.sched_getaffinity(0)))
    end = time.process_time() + 0.2
    while time.process_time() < end:  # burn 0.2 s of CPU
        pass
    t1, busy1, mine1 = threads._read_cpu(sorted(os.sched_getaffinity(0)))
    hz = os.sysconf("SC_CLK_TCK")
    # (per-CPU ticks are sampled and ours are exact: they agree only roughly over 0.2 s)
    assert t1 > t0 and (mine1 - mine0) / hz >= 0.1 and busy1 - busy0 >= 0.5 * (mine1 - mine0)


@pytest.mark.parametrize("spec", ["0", "-1", "1.5", "x", "", "1025", "2" * 30, "nan"])
def test_a_thread_count_that_cannot_be_is_refused(spec):
    with pytest.raises(InputError, match="threads must be"):
        parse_threads(spec)


def test_a_number_fixes_torch_threads_and_stops_watching():
    before = torch.get_num_threads()
    try:
        assert apply_threads("2") == 2 and torch.get_num_threads() == 2 and threads._watch is None
        assert parse_threads(" Auto ") is None
    finally:
        torch.set_num_threads(before)


def _policy_in_a_new_process(**env: str) -> tuple[int, int, bool]:
    """(torch's default, threads after ``apply_threads("auto")``, watching?) in a fresh process."""
    clean = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    code = ("from nas_core import threads; n = threads.apply_threads('auto');"
            "print(threads.DEFAULT_THREADS, n, threads._watch is not None)")
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                         check=True)
    default, n, watching = out.stdout.split()
    return int(default), int(n), watching == "True"


def test_auto_watches_unless_omp_num_threads_is_set():
    default, n, watching = _policy_in_a_new_process()
    assert n == default and watching == (default > 1 and os.path.exists("/proc/stat"))
    assert _policy_in_a_new_process(OMP_NUM_THREADS="1") == (1, 1, False)

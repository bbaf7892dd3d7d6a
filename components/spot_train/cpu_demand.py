"""How much CPU the training process asks for, as opposed to how much a loaded machine gives it.

LowCPUUtilization must tell a job that waits on its input (low demand: it should stop or shrink) from a job
that is runnable but queued behind other processes (full demand, little CPU received: it is healthy). psutil's
cpu_percent measures only what was received, so on a shared machine every busy job looks idle. Linux keeps, per
thread, the time spent running and the time spent runnable in the run queue (/proc/self/task/*/schedstat);
their sum over an interval is the demand. Where schedstat is missing, the CPU received is used instead.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_TASKS = Path("/proc/self/task")


class CpuDemand:
    """Call `sample()` periodically: the process's CPU demand since the previous call, in percent of one core."""

    def __init__(self) -> None:
        self.schedstat = (_TASKS / str(os.getpid()) / "schedstat").exists()
        self._seen: dict[str, int] = {}
        self._cpu = _cpu_seconds()
        self._wall = time.monotonic()
        if self.schedstat:
            self._seen = _thread_demand_ns()

    def sample(self) -> float:
        now = time.monotonic()
        elapsed = max(now - self._wall, 1e-9)
        self._wall = now
        if self.schedstat:
            current = _thread_demand_ns()
            used_ns = sum(ns - self._seen.get(tid, 0) for tid, ns in current.items())
            self._seen = current
            return 100.0 * max(used_ns, 0) / 1e9 / elapsed
        cpu = _cpu_seconds()
        used, self._cpu = cpu - self._cpu, cpu
        return 100.0 * used / elapsed


def _thread_demand_ns() -> dict[str, int]:
    """thread id -> nanoseconds running + nanoseconds runnable and waiting for a CPU."""
    demand = {}
    for task in _TASKS.iterdir():
        try:
            running, waiting, _slices = (task / "schedstat").read_text().split()
        except (OSError, ValueError):  # the thread ended between listing and reading
            continue
        demand[task.name] = int(running) + int(waiting)
    return demand


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system

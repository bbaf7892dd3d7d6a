"""Measure one candidate on this machine: latency per call at batch 1 and batch 1,000, CPU per 1,000 predictions.

Each batch size is timed call by call (perf_counter) after warm-up calls, within a time budget, so a slow model
gets fewer calls rather than a longer run. These are measurements of this machine under its current load: they
go to the trade-off report, never into the compressed model's bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

BATCH_SIZES = (1, 1000)
WARMUP_CALLS = 3


@dataclass(frozen=True)
class Latency:
    batch: int
    calls: int
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Measurement:
    latencies: tuple[Latency, ...]
    cpu_s_per_1000: float  # process CPU seconds per 1,000 predictions at the largest batch
    rows_per_s: float  # throughput at the largest batch (wall)

    def at(self, batch: int) -> Latency:
        return next(lat for lat in self.latencies if lat.batch == batch)


def measure(predict: Any, rows: Any, budget_s: float = 1.0, max_calls: int = 300) -> Measurement:
    """Time `predict` on `rows` (a 2-D array or DataFrame; repeated to fill a batch larger than it)."""
    import numpy as np

    latencies = []
    cpu_per_1000 = rows_per_s = 0.0
    for batch in BATCH_SIZES:
        data = _batch_of(rows, batch)
        for _ in range(WARMUP_CALLS):
            predict(data)
        times: list[float] = []
        cpu0, wall0 = time.process_time(), time.perf_counter()
        while len(times) < max_calls and (time.perf_counter() - wall0 < budget_s or len(times) < 5):
            t0 = time.perf_counter()
            predict(data)
            times.append(time.perf_counter() - t0)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        ms = np.asarray(times) * 1000
        latencies.append(Latency(batch, len(times), float(np.percentile(ms, 50)), float(np.percentile(ms, 99))))
        if batch == max(BATCH_SIZES):
            cpu_per_1000 = cpu / (len(times) * batch) * 1000
            rows_per_s = len(times) * batch / wall
    return Measurement(tuple(latencies), cpu_per_1000, rows_per_s)


def _batch_of(rows: Any, batch: int) -> Any:
    n = len(rows)
    if hasattr(rows, "iloc"):
        import pandas as pd

        if n >= batch:
            return rows.iloc[:batch]
        return pd.concat([rows] * (batch // n + 1), ignore_index=True).iloc[:batch]
    import numpy as np

    if n >= batch:
        return rows[:batch]
    return np.concatenate([rows] * (batch // n + 1))[:batch]

"""Estimate each way of serving a traffic profile and choose the one with the fewest instance-hours that meets
the latency objective.

Assumptions (printed in the report, overridable through `Assumptions`):
- an instance is kept at most `target_utilisation` busy (headroom for bursts); a worker per vCPU;
- real-time endpoint: autoscaled per hour, never below one instance (it is always on, every day of the month);
- serverless: compute time plus one cold start per active hour, and a worker held warm through each active hour,
  counted as its memory's share of the instance; feasible only when a cold start still meets the objective, the
  model fits 6 GB and concurrency stays within 200;
- asynchronous endpoint: scales to zero between active hours, an active hour costs whole instance-hours; a
  request may wait `async_scale_up_s` for an instance, so it needs an objective at least that long;
- batch transform: each job pays `batch_startup_s` of instance time, then scores at the measured batch-1000 rate
  on every vCPU; for online traffic it means hourly jobs, so it needs an objective of at least an hour.
The baseline every choice is compared with is one always-on real-time instance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from greenpipe.components.serve.instances import Instance
from greenpipe.components.serve.traffic import Traffic

MODES = ("batch_transform", "async", "serverless", "real_time")  # preference order when instance-hours tie
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_MAX_CONCURRENCY = 200


@dataclass(frozen=True)
class Assumptions:
    target_utilisation: float = 0.6
    serverless_cold_start_s: float = 5.0
    async_scale_up_s: float = 600.0
    batch_startup_s: float = 300.0
    hourly_batch_objective_s: float = 3600.0

    def lines(self) -> list[str]:
        return [
            f"instances run at most {self.target_utilisation:.0%} busy, one worker per vCPU",
            f"a serverless cold start takes {self.serverless_cold_start_s:g} s (one per active hour), and the provider "
            "keeps the worker warm through each active hour (counted as its memory's share of the instance)",
            f"an asynchronous endpoint takes {self.async_scale_up_s:g} s to scale up from zero",
            f"a batch transform job spends {self.batch_startup_s:g} s of instance time starting",
        ]


@dataclass(frozen=True)
class MeasuredModel:
    """What serve knows of the model: measured latencies (ms) and memory (MB)."""

    p50_ms_b1: float
    p99_ms_b1: float
    p50_ms_b1000: float
    memory_mb: float
    source: str


@dataclass
class Option:
    mode: str
    feasible: bool
    reason: str
    instance_hours: float = 0.0
    instances: int = 0
    utilisation: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def options(
    traffic: Traffic, model: MeasuredModel, instance: Instance, objective_ms: float, a: Assumptions
) -> list[Option]:
    """One Option per mode, feasible or not (with why)."""
    request_s = model.p50_ms_b1 / 1000 * traffic.rows_per_request
    row_s_bulk = model.p50_ms_b1000 / 1000 / 1000
    capacity_s = 3600 * instance.vcpus * a.target_utilisation  # busy seconds one instance serves per hour
    out = []
    if traffic.kind == "batch":
        busy_per_batch = traffic.batch_rows * row_s_bulk / instance.vcpus
        per_job_h = (a.batch_startup_s + busy_per_batch) / 3600
        out.append(
            Option(
                "batch_transform",
                True,
                f"{traffic.batches_per_month:g} jobs/month of {per_job_h * 60:.1f} min",
                traffic.batches_per_month * per_job_h,
                1,
                busy_per_batch / max(per_job_h * 3600, 1e-9),
                {"instance_type": instance.name, "instance_count": 1},
            )
        )
        async_h = traffic.batches_per_month * max(1.0, math.ceil(per_job_h))
        fits = objective_ms / 1000 >= a.async_scale_up_s
        out.append(
            Option(
                "async",
                fits,
                "scales to zero between batches"
                if fits
                else f"a {a.async_scale_up_s:g} s scale-up exceeds the {objective_ms:g} ms objective",
                async_h,
                1,
                traffic.batches_per_month * busy_per_batch / max(async_h * 3600, 1e-9),
                {"instance_type": instance.name, "instance_count": 1},
            )
        )
        out.append(Option("serverless", False, "a batch exceeds serverless's 4 MB payload and 60 s per invocation"))
        hours = traffic.hours_per_month
        out.append(
            Option(
                "real_time",
                True,
                "one instance always on, busy only while a batch arrives",
                hours,
                1,
                traffic.batches_per_month * busy_per_batch / (hours * 3600),
                {"instance_type": instance.name, "instance_count": 1},
            )
        )
        return out

    rph = traffic.requests_per_hour
    busy = [r * request_s for r in rph]  # busy seconds per hour of day
    need = [math.ceil(b / capacity_s) if b > 0 else 0 for b in busy]
    days = traffic.days_per_month
    total_busy = sum(busy) * days

    rt_hours = traffic.hours_per_month + days * sum(max(0, n - 1) for n in need)
    rt_ok = objective_ms >= model.p99_ms_b1 * traffic.rows_per_request
    out_rt = Option(
        "real_time",
        rt_ok,
        f"autoscaled 1..{max(1, max(need))} instances, always on"
        if rt_ok
        else f"the model's measured p99 {model.p99_ms_b1:.3g} ms exceeds the {objective_ms:g} ms objective",
        rt_hours,
        max(1, max(need)),
        total_busy / (rt_hours * 3600 * instance.vcpus),
        {"instance_type": instance.name, "instance_count": max(1, max(need)), "max_instances": max(1, max(need))},
    )

    active = [h for h, r in enumerate(rph) if r > 0]
    memory = next((m for m in SERVERLESS_MEMORY_MB if m >= 2 * model.memory_mb + 512), None)
    concurrency = max(1, math.ceil(max(rph) * request_s / 3600 * 4))  # 4x the mean concurrency of the peak hour
    warm_share = (memory or SERVERLESS_MEMORY_MB[-1]) / 1024 / instance.memory_gb
    sl_hours = (total_busy + days * len(active) * a.serverless_cold_start_s) / 3600 + days * sum(
        warm_share * max(1, math.ceil(r * request_s / 3600)) for r in rph if r > 0
    )
    problems = []
    if objective_ms < a.serverless_cold_start_s * 1000 + model.p99_ms_b1:
        problems.append(f"a {a.serverless_cold_start_s:g} s cold start exceeds the {objective_ms:g} ms objective")
    if memory is None:
        problems.append(f"the model needs more than serverless's 6144 MB ({model.memory_mb:.0f} MB measured)")
    if concurrency > SERVERLESS_MAX_CONCURRENCY:
        problems.append(f"peak concurrency {concurrency} exceeds serverless's {SERVERLESS_MAX_CONCURRENCY}")
    out_sl = Option(
        "serverless",
        not problems,
        "; ".join(problems) or f"{memory} MB, max concurrency {concurrency}; warm only in active hours",
        sl_hours,
        0,
        min(1.0, total_busy / max(sl_hours * 3600, 1e-9)),
        {"memory_mb": memory or SERVERLESS_MEMORY_MB[-1], "max_concurrency": min(concurrency, 200)},
    )

    as_hours = days * sum(max(1, n) for n in need if n > 0)
    as_ok = objective_ms / 1000 >= a.async_scale_up_s
    out_as = Option(
        "async",
        as_ok,
        f"scales to zero outside the {len(active)} active hours"
        if as_ok
        else f"a {a.async_scale_up_s:g} s scale-up from zero exceeds the {objective_ms:g} ms objective",
        as_hours,
        max(1, max(need)),
        total_busy / max(as_hours * 3600 * instance.vcpus, 1e-9),
        {"instance_type": instance.name, "instance_count": 1, "max_instances": max(1, max(need))},
    )

    rows_per_day = [r * traffic.rows_per_request for r in rph]
    jobs = days * len(active)
    bt_busy = sum(rows_per_day) * days * row_s_bulk / instance.vcpus
    bt_hours = (jobs * a.batch_startup_s + bt_busy) / 3600
    bt_ok = objective_ms / 1000 >= a.hourly_batch_objective_s
    out_bt = Option(
        "batch_transform",
        bt_ok,
        f"{jobs:g} hourly jobs/month"
        if bt_ok
        else f"hourly batches answer within an hour, not within the {objective_ms:g} ms objective",
        bt_hours,
        1,
        bt_busy / max(bt_hours * 3600, 1e-9),
        {"instance_type": instance.name, "instance_count": 1},
    )
    return [out_bt, out_as, out_sl, out_rt]


def choose(candidates: list[Option]) -> Option:
    feasible = [o for o in candidates if o.feasible]
    if not feasible:
        from greenpipe.components.serve.errors import ServeError

        raise ServeError(
            "no serving mode meets latency_objective_ms: "
            + "; ".join(f"{o.mode}: {o.reason}" for o in candidates)
            + ". Raise the objective or compress the model further"
        )
    return min(feasible, key=lambda o: (round(o.instance_hours, 6), MODES.index(o.mode)))


def energy_kwh(option: Option, instance: Instance, pue: float) -> float:
    """kWh per month of an option: its instance-hours at its utilisation (serverless: at full load)."""
    return option.instance_hours * instance.watts(option.utilisation) * pue / 1000

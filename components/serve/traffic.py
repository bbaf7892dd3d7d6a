"""A traffic profile: requests per hour by hour of day, or a batch of N rows every D.

    {"requests_per_hour": 1200}                       steady, every hour of every day
    {"requests_per_hour": [0]*8 + [500]*10 + [0]*6}   by hour of day (24 numbers, hour 0 first)
    {"batch_rows": 100000, "every": "P1D"}            a batch every ISO-8601 duration
Optional: "days_per_month" (default 30; 22 for weekdays only), "rows_per_request" (default 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greenpipe.components.serve.errors import ServeError

HOURS = 24
ALWAYS_ON_DAYS = 30


@dataclass(frozen=True)
class Traffic:
    kind: str  # "online" or "batch"
    requests_per_hour: tuple[float, ...] = ()
    batch_rows: int = 0
    every_s: float = 0.0
    days_per_month: float = 30.0
    rows_per_request: int = 1

    @property
    def hours_per_month(self) -> float:
        """Hours of a 30-day month: what an always-on endpoint runs, whatever days the traffic comes on."""
        return ALWAYS_ON_DAYS * HOURS

    @property
    def requests_per_month(self) -> float:
        return sum(self.requests_per_hour) * self.days_per_month

    @property
    def batches_per_month(self) -> float:
        return self.days_per_month * 86400 / self.every_s if self.kind == "batch" else 0.0

    def describe(self) -> str:
        if self.kind == "batch":
            return (
                f"a batch of {self.batch_rows} rows every {self.every_s / 3600:g} h, {self.days_per_month:g} days/month"
            )
        busy = sum(1 for r in self.requests_per_hour if r > 0)
        return (
            f"{sum(self.requests_per_hour):g} requests/day over {busy} active hours (peak "
            f"{max(self.requests_per_hour):g}/h), {self.rows_per_request} row(s) each, "
            f"{self.days_per_month:g} days/month"
        )


def parse(profile: dict[str, Any]) -> Traffic:
    """Check a profile dict and return it as a Traffic; every error names the field and the fix."""
    from greenpipe.durations import parse_duration

    if not isinstance(profile, dict):
        raise ServeError(f"traffic={profile!r} must be a dict: see greenpipe.components.serve.traffic for the shapes")
    known = {"requests_per_hour", "batch_rows", "every", "days_per_month", "rows_per_request"}
    unknown = sorted(set(profile) - known)
    if unknown:
        raise ServeError(f"traffic has unknown keys {unknown}: use {sorted(known)}")
    days = _number(profile, "days_per_month", 30.0)
    if not 0 < days <= 31:
        raise ServeError(f"traffic.days_per_month={days!r} must be in (0, 31], e.g. 22 for weekdays")
    rows_per_request = int(_number(profile, "rows_per_request", 1))
    if rows_per_request < 1:
        raise ServeError(f"traffic.rows_per_request={rows_per_request!r} must be >= 1")
    if ("requests_per_hour" in profile) == ("batch_rows" in profile):
        raise ServeError(
            "traffic needs exactly one of requests_per_hour (online) or batch_rows + every (batch), e.g. "
            '{"requests_per_hour": 1200} or {"batch_rows": 100000, "every": "P1D"}'
        )
    if "batch_rows" in profile:
        rows = int(_number(profile, "batch_rows", 0))
        if rows < 1:
            raise ServeError(f"traffic.batch_rows={profile['batch_rows']!r} must be >= 1")
        if "every" not in profile:
            raise ServeError('traffic.every is missing: how often a batch comes, as ISO-8601, e.g. "P1D"')
        every = parse_duration(str(profile["every"]), field="traffic.every")
        if every < 3600:
            raise ServeError(
                f"traffic.every={profile['every']!r} is under an hour: give such traffic as requests_per_hour"
            )
        return Traffic("batch", batch_rows=rows, every_s=every, days_per_month=days, rows_per_request=1)
    rph = profile["requests_per_hour"]
    hours = [rph] * HOURS if isinstance(rph, (int, float)) and not isinstance(rph, bool) else rph
    if not isinstance(hours, list) or len(hours) != HOURS:
        raise ServeError(f"traffic.requests_per_hour={rph!r} must be a number or a list of 24 numbers (hour 0 first)")
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 for v in hours) or not any(hours):
        raise ServeError("traffic.requests_per_hour must hold numbers >= 0, at least one of them > 0")
    return Traffic("online", tuple(float(v) for v in hours), days_per_month=days, rows_per_request=rows_per_request)


def _number(profile: dict[str, Any], key: str, default: float) -> float:
    value = profile.get(key, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ServeError(f"traffic.{key}={value!r} must be a number")
    return float(value)

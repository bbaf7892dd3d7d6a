"""Energy and CO2e of step executions: measured CPU time and memory -> kWh -> gCO2e, spent and avoided.

Energy methods are small strategy classes picked by name (`formula`, `codecarbon`). The formula is the
Green Algorithms one (Lannelongue et al., 2021):

    energy = t x (cores x W_core x usage + memory_GB x 0.3725 W) x PUE

where `t x cores x usage` is the CPU time the step actually used (user + system), so it needs no guess of
usage. W_core and PUE default to the values below and are overridden by GREENPIPE_W_PER_CORE and GREENPIPE_PUE.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from greenpipe.errors import GreenpipeError

W_PER_GB = 0.3725  # Green Algorithms: power draw of memory, W per GB
DEFAULT_W_PER_CORE = 12.0  # Green Algorithms' per-core power for a CPU of unknown model
DEFAULT_PUE = 1.135  # Cloud Carbon Footprint's average PUE for AWS
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class GridIntensity:
    """Grid carbon intensity of one AWS region or country, with where the figure comes from."""

    key: str
    name: str
    g_per_kwh: float
    source: str
    year: int


@lru_cache(maxsize=1)
def intensity_table() -> dict[str, Any]:
    """The table shipped with greenpipe (greenpipe/data/grid_intensity.json)."""
    text = resources.files("greenpipe").joinpath("data/grid_intensity.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def grid_intensity(region: str | None = None) -> GridIntensity:
    """Intensity for an AWS region (`eu-north-1`) or an ISO-3166 alpha-3 country (`FRA`).

    Defaults to --region, then GREENPIPE_REGION, then us-east-1.
    """
    key = region or os.environ.get("GREENPIPE_REGION") or DEFAULT_REGION
    table = intensity_table()
    row = table["regions"].get(key.lower()) or table["countries"].get(key.upper())
    if row is None:
        raise GreenpipeError(
            f"region={key!r} is not in greenpipe's grid-intensity table: use an AWS region such as "
            f"{', '.join(sorted(table['regions'])[:4])} ... or a 3-letter country code such as FRA, DEU, USA "
            "(see `greenpipe regions`)"
        )
    return GridIntensity(key, row["name"], float(row["g_per_kwh"]), row["source"], int(row["year"]))


@dataclass
class Usage:
    """What one execution used, measured."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_mb: float = 0.0
    energy_kwh: float = 0.0
    method: str = "formula"


class UsageMeter:
    """Measures wall time, CPU time (this process and its children) and peak RSS while a step runs.

    Peak RSS is sampled every 20 ms by a daemon thread (psutil), including child processes unless `children` is
    False: psutil finds them by reading the parent of every process on the machine (milliseconds a call), which a
    caller that measures sub-second work started in this process only can skip.
    """

    def __init__(self, sample_s: float = 0.02, children: bool = True):
        self.sample_s = sample_s
        self.children = children
        self._stop = threading.Event()
        self._peak = 0
        self._thread: threading.Thread | None = None

    def __enter__(self) -> UsageMeter:
        import psutil

        self._proc = psutil.Process()
        self._peak = self._rss()
        self._thread = threading.Thread(target=self._sample, daemon=True, name="greenpipe-rss")
        self._thread.start()
        self._t0 = time.perf_counter()
        self._c0 = _cpu_seconds()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall_s = time.perf_counter() - self._t0
        self.cpu_s = max(0.0, _cpu_seconds() - self._c0)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._peak = max(self._peak, self._rss())
        self.peak_mb = self._peak / 2**20

    def _rss(self) -> int:
        try:
            total = self._proc.memory_info().rss
            for child in self._proc.children(recursive=True) if self.children else ():
                try:
                    total += child.memory_info().rss
                except Exception:  # a child that just exited
                    continue
            return int(total)
        except Exception:
            return self._peak

    def _sample(self) -> None:
        while not self._stop.wait(self.sample_s):
            self._peak = max(self._peak, self._rss())


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class EnergyMethod:
    """Turns a measured execution into kWh. One method per class, picked by name."""

    name = "base"

    def start(self) -> None:
        """Called just before the step body runs."""

    def stop(self, usage: Usage) -> float:
        """kWh for the execution just measured."""
        raise NotImplementedError


class FormulaEnergy(EnergyMethod):
    """Green Algorithms formula on measured CPU time and peak memory."""

    name = "formula"

    def __init__(self) -> None:
        self.w_per_core = float(os.environ.get("GREENPIPE_W_PER_CORE", DEFAULT_W_PER_CORE))
        self.pue = float(os.environ.get("GREENPIPE_PUE", DEFAULT_PUE))

    def stop(self, usage: Usage) -> float:
        return formula_kwh(usage.cpu_s, usage.wall_s, usage.peak_mb / 1024, self.w_per_core, self.pue)


class CodecarbonEnergy(EnergyMethod):
    """codecarbon's offline tracker (RAPL where the kernel exposes it, its CPU model table otherwise)."""

    name = "codecarbon"

    def __init__(self, country_iso_code: str = "USA"):
        try:
            from codecarbon import OfflineEmissionsTracker
        except ImportError as exc:
            raise GreenpipeError("--energy codecarbon needs codecarbon: pip install 'greenpipe[codecarbon]'") from exc
        self._tracker = OfflineEmissionsTracker(
            country_iso_code=country_iso_code,
            save_to_file=False,
            log_level="error",
            measure_power_secs=1,
        )

    def start(self) -> None:
        self._tracker.start()

    def stop(self, usage: Usage) -> float:
        self._tracker.stop()
        data = self._tracker.final_emissions_data
        return float(getattr(data, "energy_consumed", 0.0) or 0.0)


ENERGY_METHODS: dict[str, type[EnergyMethod]] = {m.name: m for m in (FormulaEnergy, CodecarbonEnergy)}


def energy_method(name: str) -> EnergyMethod:
    if name not in ENERGY_METHODS:
        raise GreenpipeError(f"energy={name!r} is not a method: use one of {', '.join(ENERGY_METHODS)}")
    return ENERGY_METHODS[name]()


def formula_kwh(
    cpu_s: float,
    wall_s: float,
    memory_gb: float,
    w_per_core: float = DEFAULT_W_PER_CORE,
    pue: float = DEFAULT_PUE,
) -> float:
    """Green Algorithms energy in kWh: CPU seconds x W per core plus memory held over the wall time, x PUE."""
    joules = (cpu_s * w_per_core + wall_s * memory_gb * W_PER_GB) * pue
    return joules / 3.6e6


def co2e_g(energy_kwh: float, intensity: GridIntensity) -> float:
    return energy_kwh * intensity.g_per_kwh


@dataclass
class Credit:
    """Energy a step avoided, traced to what was measured (an execution id or a measured per-unit cost)."""

    kind: str  # a registered credit kind (see register_credit_kind); or projection (see PROJECTED)
    energy_kwh: float
    traced_to: str
    note: str = ""


PROJECTED = "projection"
# A projection (e.g. compress: energy a smaller model would save per 1M predictions, from measured CPU time) is
# kept in the credits table under its own kind and never summed into avoided energy, which is only ever measured.

# kind -> how reports name it. The engine's own kinds; a component registers its kinds when its step module is
# imported (register_credit_kind), so the engine lists no component.
_CREDIT_LABELS: dict[str, str] = {
    "cache": "cache hits",
    "gated_skip": "steps skipped by a gate (retrains)",
    PROJECTED: "projections (never counted as avoided)",
}


def register_credit_kind(kind: str, label: str) -> None:
    """Let steps credit avoided energy under `kind`; `label` names it in reports ("pruned trials")."""
    if not kind.isidentifier():
        raise GreenpipeError(f"credit kind={kind!r} must be a snake_case name, e.g. 'early_stop'")
    if _CREDIT_LABELS.get(kind, label) != label:
        raise GreenpipeError(f"credit kind={kind!r} is registered already as {_CREDIT_LABELS[kind]!r}")
    _CREDIT_LABELS[kind] = label


def credit_kinds() -> tuple[str, ...]:
    """The kinds registered so far (the engine's and those of the components imported)."""
    return tuple(_CREDIT_LABELS)


def credit_label(kind: str) -> str:
    """How reports name a credit kind; a kind from a component not imported here shows as itself."""
    return _CREDIT_LABELS.get(kind, kind)


@dataclass
class CreditBook:
    credits: list[Credit] = field(default_factory=list)

    def add(self, credit: Credit) -> None:
        if credit.kind not in _CREDIT_LABELS:
            raise GreenpipeError(
                f"credit kind={credit.kind!r} is unknown: use one of {', '.join(credit_kinds())}, or register it "
                "with greenpipe.ledger.register_credit_kind where the step is defined"
            )
        if credit.energy_kwh < 0:
            raise GreenpipeError(f"credit energy_kwh={credit.energy_kwh!r} must be >= 0")
        if not credit.traced_to:
            raise GreenpipeError("a credit needs traced_to: the execution or measurement it comes from")
        self.credits.append(credit)

    @property
    def total_kwh(self) -> float:
        return sum(c.energy_kwh for c in self.credits if c.kind != PROJECTED)

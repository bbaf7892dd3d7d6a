"""Stop-rules: one small class per rule, one method, picked by name in config (like Optuna's pruners).

Names and parameters mirror SageMaker Debugger's built-in rules (LossNotDecreasing, Overfit, Overtraining,
StalledTrainingRule, ExplodingTensor, VanishingGradient, and the profiler's LowGPUUtilization applied to CPU),
because Debugger is closed to new customers: these run inside greenpipe, the same on a laptop, in a KFP pod and
in a SageMaker job. Rules read the metrics a training loop reports: `loss` (training), `val_loss` (validation)
and, where the loop measures it, `min_gradient_mean_abs`. Rules on noisy curves decide on evidence that clears
the curve's own noise (evidence.py); parameters Debugger does not have are listed in `greenpipe_only`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from greenpipe.components.spot_train.evidence import finite_tail, trend
from greenpipe.errors import GreenpipeError


class RuleError(GreenpipeError):
    """A stop-rule is named or configured wrongly."""


@dataclass
class History:
    """What rules look at: one row of metrics per step, CPU samples, and when the last step arrived."""

    rows: list[dict[str, float]] = field(default_factory=list)
    cpu_percent: list[float] = field(default_factory=list)
    last_report: float = field(default_factory=time.monotonic)
    now: float = field(default_factory=time.monotonic)

    def series(self, key: str) -> list[float]:
        return [row[key] for row in self.rows if key in row]


@dataclass(frozen=True)
class Fire:
    rule: str
    reason: str
    stop: bool = True


@dataclass
class StopRule:
    """A rule looks at the history and says whether it fires, and why."""

    name: ClassVar[str] = "base"
    greenpipe_only: ClassVar[tuple[str, ...]] = ()  # parameters SageMaker Debugger's rule does not take
    time_based: ClassVar[bool] = False  # reads the clock: where it fires depends on the machine and its load

    def check(self, history: History) -> Fire | None:
        raise NotImplementedError

    def fire(self, reason: str, stop: bool = True) -> Fire:
        return Fire(self.name, reason, stop)

    def params(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _positive(rule: str, **values: float) -> None:
    for key, value in values.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise RuleError(f"rule {rule}: {key}={value!r} must be a number > 0")


def _not_negative(rule: str, **values: float) -> None:
    for key, value in values.items():
        if value < 0:
            raise RuleError(f"rule {rule}: {key}={value!r} must be >= 0")


@dataclass
class LossNotDecreasing(StopRule):
    """Fires when the loss has, with evidence, stopped falling: over the last `num_steps` steps it rose by more
    than `increase_threshold_percent` %, or fell by less than `diff_percent` %. `mode` TRAIN reads `loss`, EVAL
    `val_loss`. Debugger compares two single points; here the change is the fitted trend over the window and it
    must clear the threshold by `evidence_sigmas` standard errors of the loss's own scatter (greenpipe's), so a
    noisy curve that may still be falling is never called a plateau."""

    name: ClassVar[str] = "LossNotDecreasing"
    greenpipe_only: ClassVar[tuple[str, ...]] = ("evidence_sigmas",)
    num_steps: int = 10
    diff_percent: float = 0.1
    increase_threshold_percent: float = 5.0
    mode: str = "TRAIN"
    evidence_sigmas: float = 3.0

    def __post_init__(self) -> None:
        _positive(self.name, num_steps=self.num_steps, increase_threshold_percent=self.increase_threshold_percent)
        if self.num_steps < 2:
            raise RuleError(f"rule {self.name}: num_steps={self.num_steps!r} must be >= 2 (a trend needs 3 points)")
        if not 0 <= self.diff_percent < 100:
            raise RuleError(f"rule {self.name}: diff_percent={self.diff_percent!r} must be in [0, 100)")
        if self.mode not in ("TRAIN", "EVAL"):
            raise RuleError(f"rule {self.name}: mode={self.mode!r} must be TRAIN or EVAL")
        _not_negative(self.name, evidence_sigmas=self.evidence_sigmas)

    def check(self, history: History) -> Fire | None:
        key = "loss" if self.mode == "TRAIN" else "val_loss"
        window = finite_tail(history.series(key), self.num_steps + 1)
        if window is None:
            return None
        fitted = trend(window)
        level = max(abs(fitted.start), 1e-12)
        sure = self.evidence_sigmas
        if fitted.lower(sure) > level * self.increase_threshold_percent / 100:
            return self.fire(
                f"{key} rose {fitted.change / level:+.2%} over the last {self.num_steps} steps (trend, "
                f"+/-{fitted.stderr / level:.2%} noise), more than {self.increase_threshold_percent:g}%"
            )
        if fitted.lower(sure) > -level * self.diff_percent / 100:
            return self.fire(
                f"{key} changed {fitted.change / level:+.2%} over the last {self.num_steps} steps (trend, "
                f"+/-{fitted.stderr / level:.2%} noise): it is not falling by {self.diff_percent:g}%"
            )
        return None


@dataclass
class Overfit(StopRule):
    """Fires when (val_loss - loss) / loss exceeds `ratio_threshold` on each of the last `patience` steps from
    `start_step`. A level test, as in Debugger: models that fit their training data almost exactly (tree
    ensembles) exceed any ratio from the first step, so it is not a default rule; Overtraining watches the gap
    grow."""

    name: ClassVar[str] = "Overfit"
    start_step: int = 0
    patience: int = 1
    ratio_threshold: float = 0.1

    def __post_init__(self) -> None:
        _positive(self.name, patience=self.patience, ratio_threshold=self.ratio_threshold)
        if self.start_step < 0:
            raise RuleError(f"rule {self.name}: start_step={self.start_step!r} must be >= 0")

    def check(self, history: History) -> Fire | None:
        rows = [r for r in history.rows if "loss" in r and "val_loss" in r and r["step"] >= self.start_step]
        if len(rows) < self.patience:
            return None
        ratios = [(r["val_loss"] - r["loss"]) / max(abs(r["loss"]), 1e-12) for r in rows[-self.patience :]]
        if all(ratio > self.ratio_threshold for ratio in ratios):
            return self.fire(
                f"validation loss exceeds training loss by {ratios[-1]:.1%} (> "
                f"{self.ratio_threshold:.0%}) for {self.patience} steps"
            )
        return None


@dataclass
class Overtraining(StopRule):
    """Fires when the train/validation gap grows: over the last `patience_validation` steps the validation loss
    rose by more than `delta` beyond its own noise (`evidence_sigmas` standard errors of its trend), while over
    the last `patience_train` steps the training loss kept falling. A training loss that stops falling is a
    plateau, LossNotDecreasing's job, not overtraining."""

    name: ClassVar[str] = "Overtraining"
    greenpipe_only: ClassVar[tuple[str, ...]] = ("evidence_sigmas",)
    patience_train: int = 5
    patience_validation: int = 10
    delta: float = 0.01
    evidence_sigmas: float = 3.0

    def __post_init__(self) -> None:
        _positive(self.name, patience_train=self.patience_train, patience_validation=self.patience_validation)
        if self.patience_train < 2 or self.patience_validation < 2:
            raise RuleError(f"rule {self.name}: patience_train and patience_validation must be >= 2 (a trend)")
        _not_negative(self.name, delta=self.delta, evidence_sigmas=self.evidence_sigmas)

    def check(self, history: History) -> Fire | None:
        val = finite_tail(history.series("val_loss"), self.patience_validation + 1)
        train = finite_tail(history.series("loss"), self.patience_train + 1)
        if val is None or train is None:
            return None
        rising, falling = trend(val), trend(train)
        if rising.lower(self.evidence_sigmas) > self.delta and falling.change < 0:
            return self.fire(
                f"the train/validation gap grows: val_loss rose {rising.change:+.4g} (+/-{rising.stderr:.2g}) "
                f"over {self.patience_validation} steps, more than delta {self.delta:g}, while loss fell "
                f"{falling.change:+.4g} over {self.patience_train} steps"
            )
        return None


@dataclass
class StalledTrainingRule(StopRule):
    """Fires when no step has been reported for `threshold` seconds (a stalled input or a hang)."""

    name: ClassVar[str] = "StalledTrainingRule"
    time_based: ClassVar[bool] = True
    threshold: float = 1800.0
    stop_training_on_fire: bool = True
    training_job_name_prefix: str | None = None

    def __post_init__(self) -> None:
        _positive(self.name, threshold=self.threshold)

    def check(self, history: History) -> Fire | None:
        idle = history.now - history.last_report
        if idle > self.threshold:
            return self.fire(
                f"no step reported for {idle:.1f} s (threshold {self.threshold:g} s)", stop=self.stop_training_on_fire
            )
        return None


@dataclass
class ExplodingTensor(StopRule):
    """Fires on a NaN (or, unless `only_nan`, an infinite) reported metric, or a loss above `max_ratio` times
    its lowest value so far and above its first value (divergence; `max_ratio` is greenpipe's addition, 0 turns
    it off)."""

    name: ClassVar[str] = "ExplodingTensor"
    greenpipe_only: ClassVar[tuple[str, ...]] = ("max_ratio",)
    only_nan: bool = False
    max_ratio: float = 10.0

    def __post_init__(self) -> None:
        if self.max_ratio < 0:
            raise RuleError(f"rule {self.name}: max_ratio={self.max_ratio!r} must be >= 0 (0 turns it off)")

    def check(self, history: History) -> Fire | None:
        if not history.rows:
            return None
        row = history.rows[-1]
        for key, value in row.items():
            if math.isnan(value) or (not self.only_nan and math.isinf(value)):
                return self.fire(f"{key} is {value} at step {int(row['step'])}")
        losses = [v for v in history.series("loss") if math.isfinite(v)]
        # Diverging means worse than untrained: a loss near zero that jumps 10x is a noisy step, not a blow-up.
        limit = max(self.max_ratio * max(min(losses, default=0.0), 1e-12), losses[0] if losses else 0.0)
        if self.max_ratio and len(losses) > 1 and losses[-1] > limit:
            return self.fire(
                f"loss {losses[-1]:.4g} is over {self.max_ratio:g}x its lowest {min(losses):.4g} and above its "
                f"first {losses[0]:.4g}: diverging"
            )
        return None


@dataclass
class LowCPUUtilization(StopRule):
    """Debugger's LowGPUUtilization applied to sampled CPU use (percent of one core, psutil): after
    `patience` samples, fires if the 95th percentile of the last `window` samples is under `threshold_p95`.
    A p5 under `threshold_p5` with a busy p95 (fluctuation) is recorded but does not stop training."""

    name: ClassVar[str] = "LowCPUUtilization"
    time_based: ClassVar[bool] = True
    threshold_p95: float = 70.0
    threshold_p5: float = 10.0
    window: int = 500
    patience: int = 1000

    def __post_init__(self) -> None:
        _positive(self.name, threshold_p95=self.threshold_p95, window=self.window)
        if self.patience < 0 or self.threshold_p5 < 0:
            raise RuleError(f"rule {self.name}: patience and threshold_p5 must be >= 0")

    def check(self, history: History) -> Fire | None:
        samples = history.cpu_percent
        if len(samples) < self.patience + self.window:
            return None
        recent = sorted(samples[-self.window :])
        p95 = recent[min(len(recent) - 1, int(0.95 * len(recent)))]
        p5 = recent[int(0.05 * len(recent))]
        if p95 < self.threshold_p95:
            return self.fire(
                f"CPU p95 {p95:.0f}% of a core < {self.threshold_p95:g}% over the last "
                f"{self.window} samples: the job is starved (input stalled or oversized)"
            )
        if p5 < self.threshold_p5:
            return self.fire(f"CPU fluctuates: p5 {p5:.0f}% < {self.threshold_p5:g}%", stop=False)
        return None


@dataclass
class VanishingGradient(StopRule):
    """Fires when the smallest per-layer mean absolute gradient of a step (the `min_gradient_mean_abs` metric,
    averaged over the step's batches by loops that measure it, such as the torch MLP) is under `threshold`."""

    name: ClassVar[str] = "VanishingGradient"
    threshold: float = 1e-7

    def __post_init__(self) -> None:
        _positive(self.name, threshold=self.threshold)

    def check(self, history: History) -> Fire | None:
        if not history.rows or "min_gradient_mean_abs" not in history.rows[-1]:
            return None
        row = history.rows[-1]
        value = row["min_gradient_mean_abs"]
        if value < self.threshold:
            return self.fire(
                f"a layer's mean |gradient| is {value:.3g} at step {int(row['step'])}, under {self.threshold:g}: "
                "its weights no longer learn"
            )
        return None


RULES: dict[str, type[StopRule]] = {
    cls.name: cls
    for cls in (
        LossNotDecreasing,
        Overfit,
        Overtraining,
        StalledTrainingRule,
        ExplodingTensor,
        VanishingGradient,
        LowCPUUtilization,
    )
}
DEFAULT_RULES: list[Any] = ["ExplodingTensor", "VanishingGradient", "LossNotDecreasing", "Overtraining"]


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def make_rule(name: str, params: dict[str, Any] | None = None) -> StopRule:
    """One rule by its Debugger name (`LossNotDecreasing` or `loss_not_decreasing`) and parameters."""
    by_key = {_key(n): cls for n, cls in RULES.items()}
    cls = by_key.get(_key(str(name)))
    if cls is None:
        raise RuleError(f"rules: {name!r} is not a stop-rule; use one of {', '.join(RULES)}")
    params = dict(params or {})
    accepted = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise RuleError(f"rule {cls.name}: unknown parameter(s) {', '.join(unknown)}; it takes {', '.join(accepted)}")
    for f in dataclasses.fields(cls):
        if f.name in params and isinstance(f.default, (int, float)) and not isinstance(f.default, bool):
            value = params[f.name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RuleError(f"rule {cls.name}: {f.name}={value!r} must be a number")
            params[f.name] = type(f.default)(value) if isinstance(f.default, float) else value
    return cls(**params)


def parse_rules(config: list | dict | None) -> list[StopRule]:
    """Rules from config: None (the defaults), a list of names or {"name": ..., params}, or {name: params}."""
    if config is None:
        config = DEFAULT_RULES
    if isinstance(config, dict):
        items = list(config.items())
    elif isinstance(config, (list, tuple)):
        items = []
        for entry in config:
            if isinstance(entry, str):
                items.append((entry, {}))
            elif isinstance(entry, dict) and ("name" in entry or "rule" in entry):
                params = {k: v for k, v in entry.items() if k not in ("name", "rule")}
                items.append((entry.get("name", entry.get("rule")), params))
            else:
                raise RuleError(f"rules: entry {entry!r} must be a rule name or a dict with a 'name' key")
    else:
        raise RuleError(f"rules={config!r} must be a list of rule names/dicts or a dict name -> params")
    rules = []
    for name, params in items:
        if params is not None and not isinstance(params, dict):
            raise RuleError(f"rule {name}: parameters {params!r} must be a dict")
        rules.append(make_rule(name, params))
    return rules

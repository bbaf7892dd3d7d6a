"""A search space of integer, continuous and categorical parameters with SageMaker's scaling types.

One class per parameter kind, checked when built, so that a bad range fails before any trial runs. Each
parameter knows how to ask an Optuna trial for a value, how to decode the value Optuna stored (reverse-log
parameters are stored as 1 - x) and how to render itself as a SageMaker ParameterRanges entry.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from greenpipe.errors import GreenpipeError

SCALING_TYPES = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
KINDS = ("int", "float", "categorical")
AUTO_LOG_RATIO = 1000.0  # Auto picks a log scale when a positive range spans three orders of magnitude


class SearchSpaceError(GreenpipeError):
    """A search-space entry is empty, inverted, of an unknown kind, or scaled in a way its range cannot take."""


@dataclass(frozen=True)
class IntegerParameter:
    """An integer range [low, high], both ends included."""

    name: str
    low: int
    high: int
    scaling: str = "Auto"

    def __post_init__(self) -> None:
        _check_range(self.name, self.low, self.high, self.scaling, integer=True)

    @property
    def log(self) -> bool:
        return _is_log(self.low, self.high, self.scaling)

    def suggest(self, trial: Any) -> int:
        return int(trial.suggest_int(self.name, self.low, self.high, log=self.log))

    def distribution(self) -> Any:
        from optuna.distributions import IntDistribution

        return IntDistribution(self.low, self.high, log=self.log)

    def encode(self, value: Any) -> int:
        return int(value)

    def decode(self, stored: Any) -> int:
        return int(stored)

    def sagemaker(self) -> tuple[str, dict[str, Any]]:
        return "IntegerParameterRanges", {
            "Name": self.name,
            "MinValue": str(self.low),
            "MaxValue": str(self.high),
            "ScalingType": self.scaling,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"type": "int", "low": self.low, "high": self.high, "scaling": self.scaling}


@dataclass(frozen=True)
class ContinuousParameter:
    """A float range [low, high]."""

    name: str
    low: float
    high: float
    scaling: str = "Auto"

    def __post_init__(self) -> None:
        _check_range(self.name, self.low, self.high, self.scaling, integer=False)

    @property
    def log(self) -> bool:
        return self.scaling != "ReverseLogarithmic" and _is_log(self.low, self.high, self.scaling)

    def suggest(self, trial: Any) -> float:
        if self.scaling == "ReverseLogarithmic":  # log-uniform in 1 - x: dense near the top of [low, high)
            return 1.0 - float(trial.suggest_float(self.name, 1.0 - self.high, 1.0 - self.low, log=True))
        return float(trial.suggest_float(self.name, self.low, self.high, log=self.log))

    def distribution(self) -> Any:
        from optuna.distributions import FloatDistribution

        if self.scaling == "ReverseLogarithmic":
            return FloatDistribution(1.0 - self.high, 1.0 - self.low, log=True)
        return FloatDistribution(self.low, self.high, log=self.log)

    def encode(self, value: Any) -> float:
        """The value Optuna stores for a real value (1 - x under reverse-log scaling)."""
        return 1.0 - float(value) if self.scaling == "ReverseLogarithmic" else float(value)

    def decode(self, stored: Any) -> float:
        return 1.0 - float(stored) if self.scaling == "ReverseLogarithmic" else float(stored)

    def sagemaker(self) -> tuple[str, dict[str, Any]]:
        return "ContinuousParameterRanges", {
            "Name": self.name,
            "MinValue": repr(float(self.low)),
            "MaxValue": repr(float(self.high)),
            "ScalingType": self.scaling,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"type": "float", "low": self.low, "high": self.high, "scaling": self.scaling}


@dataclass(frozen=True)
class CategoricalParameter:
    """A choice among values (str, int, float, bool or None)."""

    name: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise SearchSpaceError(f"search_space[{self.name!r}]: values=[] is empty; give at least one choice")
        if len({json.dumps(v) for v in self.values}) != len(self.values):
            raise SearchSpaceError(
                f"search_space[{self.name!r}]: values={list(self.values)!r} repeat a choice; list each once"
            )
        for value in self.values:
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise SearchSpaceError(
                    f"search_space[{self.name!r}]: value {value!r} is a {type(value).__name__}; "
                    "choices must be str, int, float, bool or null"
                )

    def suggest(self, trial: Any) -> Any:
        return trial.suggest_categorical(self.name, list(self.values))

    def distribution(self) -> Any:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(list(self.values))

    def encode(self, value: Any) -> Any:
        return value

    def decode(self, stored: Any) -> Any:
        return stored

    def sagemaker(self) -> tuple[str, dict[str, Any]]:
        return "CategoricalParameterRanges", {"Name": self.name, "Values": [_text(v) for v in self.values]}

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "values": list(self.values)}


Parameter = IntegerParameter | ContinuousParameter | CategoricalParameter


class SearchSpace:
    """Named parameters, in a fixed order."""

    def __init__(self, parameters: list[Parameter]):
        names = [p.name for p in parameters]
        if not parameters:
            raise SearchSpaceError(
                "search_space={} is empty: give at least one parameter, e.g. "
                '{"C": {"type": "float", "low": 1e-3, "high": 1e3, "scaling": "Logarithmic"}}'
            )
        if len(set(names)) != len(names):
            raise SearchSpaceError(f"search_space names {names} repeat; give each parameter once")
        self.parameters = list(parameters)

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> SearchSpace:
        """Build from `{name: {"type": "int"|"float"|"categorical", "low", "high", "scaling"} | {"values": [...]}}`."""
        if not isinstance(spec, dict):
            raise SearchSpaceError(f"search_space={spec!r} must be a dict of name -> range")
        return cls([_parameter(name, entry) for name, entry in spec.items()])

    def to_dict(self) -> dict[str, Any]:
        return {p.name: p.to_dict() for p in self.parameters}

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Ask an Optuna trial for one value of every parameter; returns the real values."""
        return {p.name: p.suggest(trial) for p in self.parameters}

    def distributions(self) -> dict[str, Any]:
        return {p.name: p.distribution() for p in self.parameters}

    def encode(self, values: dict[str, Any]) -> dict[str, Any]:
        """Real values -> what Optuna stores (for enqueueing or copying trials)."""
        return {p.name: p.encode(values[p.name]) for p in self.parameters}

    def decode(self, stored: dict[str, Any]) -> dict[str, Any]:
        """What Optuna stored -> real values."""
        return {p.name: p.decode(stored[p.name]) for p in self.parameters}

    def contains(self, values: dict[str, Any]) -> bool:
        """True when every parameter has a value inside its range (how warm start filters a parent's trials)."""
        for p in self.parameters:
            if p.name not in values:
                return False
            value = values[p.name]
            if isinstance(p, CategoricalParameter):
                if value not in p.values:
                    return False
            elif not (p.low <= value <= p.high):
                return False
        return True

    def from_sagemaker(self, texts: dict[str, str]) -> dict[str, Any]:
        """The hyperparameter strings a SageMaker tuning job passes for one point -> real values.

        The inverse of `sagemaker_ranges`: integers and floats are parsed, a categorical text is matched back to
        the choice it renders (so `true` becomes True and `3` becomes 3 when the choices were bool or int).
        """
        unknown = sorted(set(texts) - set(self.names))
        missing = [n for n in self.names if n not in texts]
        if unknown or missing:
            raise SearchSpaceError(
                f"hyperparameters {sorted(texts)} do not match the search space {self.names} "
                f"(unknown {unknown}, missing {missing}); compile and run with the same search_space"
            )
        values: dict[str, Any] = {}
        for p in self.parameters:
            text = texts[p.name]
            try:
                if isinstance(p, CategoricalParameter):
                    values[p.name] = next(v for v in p.values if _text(v) == text)
                elif isinstance(p, IntegerParameter):
                    number = float(text)
                    if not number.is_integer():
                        raise ValueError(text)
                    values[p.name] = int(number)
                else:
                    values[p.name] = float(text)
            except (ValueError, StopIteration):
                raise SearchSpaceError(
                    f"hyperparameter {p.name}={text!r} is not a value of search_space[{p.name!r}] ({p.to_dict()})"
                ) from None
        return values

    def sagemaker_ranges(self) -> dict[str, list[dict[str, Any]]]:
        """SageMaker's ParameterRanges: Integer-, Continuous- and CategoricalParameterRanges lists."""
        ranges: dict[str, list[dict[str, Any]]] = {}
        for p in self.parameters:
            key, entry = p.sagemaker()
            ranges.setdefault(key, []).append(entry)
        return ranges


def _parameter(name: str, entry: Any) -> Parameter:
    if not isinstance(entry, dict):
        raise SearchSpaceError(
            f"search_space[{name!r}]={entry!r} must be a dict such as "
            '{"type": "float", "low": 0.01, "high": 1.0, "scaling": "Logarithmic"}'
        )
    kind = entry.get("type") or ("categorical" if "values" in entry else None)
    if kind not in KINDS:
        raise SearchSpaceError(f"search_space[{name!r}]: type={kind!r} is not one of {', '.join(KINDS)}")
    if kind == "categorical":
        unknown = set(entry) - {"type", "values"}
        if unknown:
            raise SearchSpaceError(
                f"search_space[{name!r}]: keys {sorted(unknown)} do not apply to a categorical "
                "parameter; give only `values`"
            )
        return CategoricalParameter(name, tuple(entry.get("values") or ()))
    unknown = set(entry) - {"type", "low", "high", "scaling"}
    if unknown:
        raise SearchSpaceError(f"search_space[{name!r}]: unknown keys {sorted(unknown)}; use low, high, scaling")
    for key in ("low", "high"):
        if key not in entry:
            raise SearchSpaceError(f"search_space[{name!r}]: `{key}` is missing; give both low and high")
        value = entry[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SearchSpaceError(f"search_space[{name!r}]: {key}={value!r} must be a finite number")
    scaling = entry.get("scaling", "Auto")
    if kind == "int":
        for key in ("low", "high"):
            if float(entry[key]) != int(entry[key]):
                raise SearchSpaceError(
                    f"search_space[{name!r}]: {key}={entry[key]!r} is not an integer; use "
                    '"type": "float" for a continuous range'
                )
        return IntegerParameter(name, int(entry["low"]), int(entry["high"]), scaling)
    return ContinuousParameter(name, float(entry["low"]), float(entry["high"]), scaling)


def _check_range(name: str, low: float, high: float, scaling: str, integer: bool) -> None:
    where = f"search_space[{name!r}]"
    if scaling not in SCALING_TYPES:
        raise SearchSpaceError(
            f"{where}: scaling={scaling!r} is not one of {', '.join(SCALING_TYPES)} "
            "(SageMaker's ScalingType, spelled exactly)"
        )
    if low > high:
        raise SearchSpaceError(f"{where}: low={low!r} > high={high!r} is an inverted range; swap them")
    if low == high:
        raise SearchSpaceError(
            f"{where}: low = high = {low!r} is an empty range; fix the value as a static "
            "hyperparameter instead, or widen the range"
        )
    if scaling == "Logarithmic" and low <= 0:
        raise SearchSpaceError(
            f"{where}: Logarithmic scaling needs low > 0, got the range [{low!r}, {high!r}] "
            "which includes 0 or negatives; raise low (e.g. 1e-6) or use Linear"
        )
    if scaling == "ReverseLogarithmic":
        if integer:
            raise SearchSpaceError(
                f"{where}: ReverseLogarithmic applies to continuous ranges only (as in "
                "SageMaker); use type float or Logarithmic/Linear scaling"
            )
        if not (0 <= low and high < 1):
            raise SearchSpaceError(
                f"{where}: ReverseLogarithmic scaling needs 0 <= low and high < 1, got "
                f"[{low!r}, {high!r}]; use Linear or Logarithmic for this range"
            )


def _is_log(low: float, high: float, scaling: str) -> bool:
    if scaling == "Logarithmic":
        return True
    if scaling == "Auto":
        return low > 0 and high / low >= AUTO_LOG_RATIO
    return False


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)

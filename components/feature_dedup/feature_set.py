"""A feature set declared once: its transform, its keys, and the fingerprint saying whether it was computed."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from greenpipe.errors import GreenpipeError
from greenpipe.params import canonical_json

if TYPE_CHECKING:
    import pandas as pd


class FeatureSetError(GreenpipeError):
    """A feature set declaration or its data cannot be used; the message names the column or field."""


@dataclass(frozen=True)
class FeatureSet:
    """One feature set: a transform (a plain function `fn(frame, **params) -> frame`) over a source table.

    Args:
        name: the catalog name teams look it up by.
        transform: the function itself, or its import path "package.module:function".
        entity_key: the column(s) naming the entity a row describes.
        event_time: the column holding when the row's values became true (datetime or numeric).
        features: the feature columns it yields; empty means every column besides key and time.
        params: keyword arguments passed to the transform; part of the fingerprint.
        version: bump it to register a changed transform under a name already taken.
    """

    name: str
    transform: Callable[..., Any] | str
    entity_key: tuple[str, ...] | list[str] | str
    event_time: str
    features: tuple[str, ...] | list[str] = ()
    params: dict[str, Any] = field(default_factory=dict)
    version: int = 1

    def __post_init__(self) -> None:
        keys = (self.entity_key,) if isinstance(self.entity_key, str) else tuple(self.entity_key)
        object.__setattr__(self, "entity_key", keys)
        object.__setattr__(self, "features", tuple(self.features))
        if not self.name or not isinstance(self.name, str):
            raise FeatureSetError(f"FeatureSet name={self.name!r} must be a non-empty string")
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise FeatureSetError(
                f"feature set {self.name}: entity_key={self.entity_key!r} must name one or more "
                "columns, e.g. entity_key=['customer_id']"
            )
        if not self.event_time:
            raise FeatureSetError(f"feature set {self.name}: event_time is required, e.g. event_time='ts'")
        if self.event_time in keys:
            raise FeatureSetError(
                f"feature set {self.name}: event_time={self.event_time!r} is also in entity_key; "
                "name the time column once"
            )
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise FeatureSetError(f"feature set {self.name}: version={self.version!r} must be an integer >= 1")

    @property
    def keys(self) -> list[str]:
        return list(self.entity_key)

    @property
    def transform_ref(self) -> str:
        """'module:function' of the transform (what the catalog records)."""
        if isinstance(self.transform, str):
            return self.transform
        return f"{self.transform.__module__}:{self.transform.__qualname__}"

    def transform_fn(self) -> Callable[..., Any]:
        return load_transform(self.transform) if isinstance(self.transform, str) else self.transform

    def declaration(self) -> str:
        """Canonical JSON of everything besides code and data that shapes the stored rows."""
        return canonical_json(
            {
                "entity_key": self.keys,
                "event_time": self.event_time,
                "features": list(self.features),
                "params": self.params,
            }
        )

    def code_digest(self) -> str:
        """Code fingerprint of the transform and every project function it reaches (greenpipe.fingerprint)."""
        from greenpipe.fingerprint import code_fingerprint

        return code_fingerprint(self.transform_fn()).digest

    def group_id(self, code_digest: str) -> str:
        """Identity of the transform: its rows from any snapshot of the source share one stored table."""
        return "fg:" + _sha(f"{code_digest}\n{self.declaration()}")

    def fingerprint(self, code_digest: str, source_digest: str) -> str:
        """Code fingerprint + source content digest + canonical params: equal means already computed."""
        return "fd:" + _sha(f"{code_digest}\n{source_digest}\n{self.declaration()}")

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Check a transform's output and keep key, time and feature columns, in that order."""
        validate_frame(frame, self.keys, self.event_time, what=f"feature set {self.name}")
        features = list(self.features) or [c for c in frame.columns if c not in (*self.keys, self.event_time)]
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise FeatureSetError(
                f"feature set {self.name}: the transform {self.transform_ref} yields no column "
                f"{missing[0]!r} (declared in features); it yields {list(frame.columns)}"
            )
        if not features:
            raise FeatureSetError(
                f"feature set {self.name}: the transform yields only key and time columns; "
                "return at least one feature column"
            )
        return frame[[*self.keys, self.event_time, *features]]


def load_transform(ref: str) -> Callable[..., Any]:
    """Import 'package.module:function'."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise FeatureSetError(f"transform={ref!r} is not an import path: give 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FeatureSetError(f"transform={ref!r}: module {module_name!r} does not import ({exc})") from exc
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise FeatureSetError(f"transform={ref!r}: {module_name} has no {attr!r}")
    if not callable(target):
        raise FeatureSetError(f"transform={ref!r} is not a function")
    return target  # type: ignore[no-any-return]


def feature_type(series: pd.Series) -> str | None:
    """The feature-store type of a column: Integral, Fractional or String (timestamps are String), or None."""
    import pandas as pd
    from pandas.api import types

    dtype = series.dtype
    if types.is_bool_dtype(dtype) or types.is_integer_dtype(dtype):
        return "Integral"
    if types.is_float_dtype(dtype):
        return "Fractional"
    if types.is_datetime64_any_dtype(dtype):
        return "String"
    if isinstance(dtype, pd.CategoricalDtype):
        return "String" if types.is_string_dtype(dtype.categories.dtype) else None
    if types.is_string_dtype(dtype):  # pandas' str dtype, or object holding only strings
        values = series.dropna()
        return "String" if values.map(type).eq(str).all() else None
    return None


def validate_frame(frame: Any, keys: list[str], event_time: str, what: str) -> None:
    """Refuse a frame that a feature store cannot hold, naming the first offending column."""
    import pandas as pd
    from pandas.api import types

    if not isinstance(frame, pd.DataFrame):
        raise FeatureSetError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}")
    for column in (*keys, event_time):
        if column not in frame.columns:
            role = "event_time" if column == event_time else "entity_key"
            raise FeatureSetError(f"{what}: {role} column {column!r} is missing; the frame has {list(frame.columns)}")
    if frame.empty:
        raise FeatureSetError(f"{what}: the frame is empty (0 rows); nothing to store")
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise FeatureSetError(f"{what}: column {dup!r} appears twice; give each column one name")
    for column in (*keys, event_time):
        nulls = int(frame[column].isna().sum())
        if nulls:
            raise FeatureSetError(
                f"{what}: column {column!r} has {nulls} null value(s); key and event-time "
                "columns must be filled in every row"
            )
    time_dtype = frame[event_time].dtype
    if not (types.is_datetime64_any_dtype(time_dtype) or types.is_numeric_dtype(time_dtype)) or types.is_bool_dtype(
        time_dtype
    ):
        raise FeatureSetError(
            f"{what}: event_time column {event_time!r} has dtype {time_dtype}; use a datetime "
            "column (pd.to_datetime) or numeric epoch seconds"
        )
    for column in frame.columns:
        if feature_type(frame[column]) is None:
            raise FeatureSetError(
                f"{what}: column {column!r} has dtype {frame[column].dtype} that no feature type "
                "(Integral, Fractional, String) can hold; convert it, e.g. to a string"
            )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

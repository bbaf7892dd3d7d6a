"""Content digest of a module-level value a step's code reaches, so editing it reruns the step.

Plain data counts by content: scalars, str/bytes, tuples, lists, dicts (in order), sets (order-free), numpy arrays and
scalars, enums, dataclass instances, compiled regexes, paths, dates, and instances of project classes whose
attributes are plain data. Code inside a value (a table of functions or classes) counts by its qualified name
and is handed to `visit_code`, which fingerprints it. Anything else raises Untrackable, which the fingerprint
reports by name instead of ignoring.

To make a value tracked, keep it plain data (or a dataclass of plain data), or build it inside a function the
step calls, so that its construction is code.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import hashlib
import logging
import pathlib
import re
import threading
import types
import typing
import uuid
from collections.abc import Callable
from typing import Any

_MAX_ITEMS = 100_000  # a value this large is data, not configuration: name it rather than walk it
_MAX_DEPTH = 20
_SCALARS = (type(None), bool, int, float, complex, str, bytes)
_REPR_EXACT = (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, fractions.Fraction, uuid.UUID)
# objects that hold no result-shaping data: reading them does not make a step depend on their state
_INERT = (
    logging.Logger,
    logging.LoggerAdapter,
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Event,
    threading.local,
    threading.Condition,
    threading.Semaphore,
    typing.TypeVar,
)


class Untrackable(Exception):
    """A value whose content cannot be digested."""

    def __init__(self, type_name: str) -> None:
        super().__init__(type_name)
        self.type_name = type_name


def value_digest(value: Any, visit_code: Callable[[Any], None]) -> str:
    """A hex digest of `value`'s content; raises Untrackable for what cannot be digested."""
    budget = [_MAX_ITEMS]
    text = _canonical(value, visit_code, budget, 0)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def _canonical(value: Any, visit: Callable[[Any], None], budget: list[int], depth: int) -> str:
    budget[0] -= 1
    if budget[0] < 0 or depth > _MAX_DEPTH:
        raise Untrackable(f"{type(value).__qualname__}, too large or too deep to digest")
    kind = type(value)
    if kind in _SCALARS:
        return f"{kind.__name__}:{value!r}"
    if isinstance(value, enum.Enum):
        visit(kind)
        return f"enum:{_qualname(kind)}.{value.name}={_canonical(value.value, visit, budget, depth + 1)}"
    if isinstance(value, _SCALARS):  # a subclass of a scalar (IntFlag members are enums, handled above)
        return f"{_qualname(kind)}:{value!r}"
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)):
        visit(value)
        return f"code:{_qualname(value)}"
    if isinstance(value, (tuple, list)):
        items = ",".join(_canonical(v, visit, budget, depth + 1) for v in value)
        return f"{_qualname(kind)}[{items}]"
    if isinstance(value, (set, frozenset)):
        members = sorted(_canonical(v, visit, budget, depth + 1) for v in value)
        return f"{_qualname(kind)}{{{','.join(members)}}}"
    if isinstance(value, dict):
        # insertion order is part of a dict's value: code that iterates it sees that order
        pairs = [
            f"{_canonical(k, visit, budget, depth + 1)}:{_canonical(v, visit, budget, depth + 1)}"
            for k, v in value.items()
        ]
        return f"{_qualname(kind)}{{{','.join(pairs)}}}"
    if isinstance(value, re.Pattern):
        return f"re:{value.pattern!r}/{value.flags}"
    if isinstance(value, (pathlib.PurePath, *_REPR_EXACT)):
        return f"{_qualname(kind)}:{value!r}"
    if isinstance(value, _INERT):
        return f"inert:{_qualname(kind)}"
    if kind.__module__ == "numpy":
        return _numpy(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        visit(kind)
        fields = ",".join(
            f"{f.name}={_canonical(getattr(value, f.name), visit, budget, depth + 1)}"
            for f in dataclasses.fields(value)
        )
        return f"dataclass:{_qualname(kind)}({fields})"
    if isinstance(value, typing.ForwardRef) or kind.__module__ in ("typing", "types"):
        return f"typing:{value!r}"
    return _plain_object(value, visit, budget, depth)


def _numpy(value: Any) -> str:
    tobytes = getattr(value, "tobytes", None)
    dtype = getattr(value, "dtype", None)
    if tobytes is None or dtype is None or getattr(dtype, "hasobject", False):
        raise Untrackable(f"numpy.{type(value).__qualname__} of objects")
    shape = getattr(value, "shape", ())
    content = hashlib.sha256(value.tobytes(order="C") if shape else tobytes()).hexdigest()
    return f"numpy:{dtype.str}{shape}:{content}"


def _plain_object(value: Any, visit: Callable[[Any], None], budget: list[int], depth: int) -> str:
    """An instance whose attributes are all plain data (a settings object, say)."""
    kind = type(value)
    state = getattr(value, "__dict__", None)
    slots = [s for cls in kind.__mro__ for s in getattr(cls, "__slots__", ()) if hasattr(value, s)]
    if state is None and not slots:
        raise Untrackable(_qualname(kind))
    attrs = dict(state or {})
    attrs.update({s: getattr(value, s) for s in slots})
    try:
        inner = _canonical(attrs, visit, budget, depth + 1)
    except Untrackable as exc:
        raise Untrackable(f"{_qualname(kind)} holding {exc.type_name}") from None
    visit(kind)
    return f"object:{_qualname(kind)}{inner}"

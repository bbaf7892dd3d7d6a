"""Parameter types: which Python types a step or pipeline parameter may have, and checking values against them."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from greenpipe.errors import ParamError

SCALARS = (bool, int, float, str)

CODE_REF_MARK = "greenpipe:code-ref"
CodeRef = typing.Annotated[str, CODE_REF_MARK]
"""A str param naming code as "package.module:function". The code it names (and all it reaches) joins the step's
cache key, so editing a transform passed by name reruns the step. Values without ':' (built-in names) are left out."""


def mentions_code_ref(hint: Any) -> bool:
    """True if a type hint (read with include_extras=True) contains CodeRef anywhere, e.g. `list[CodeRef] | None`."""
    if CODE_REF_MARK in getattr(hint, "__metadata__", ()):
        return True
    return any(mentions_code_ref(arg) for arg in typing.get_args(hint))


def type_name(tp: Any) -> str:
    """A readable name for a parameter type (`float`, `list[str]`, `int | None`)."""
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")


def choices(tp: Any) -> tuple[Any, ...] | None:
    """The allowed values of a `Literal[...]` param (also inside `X | None`), else None."""
    if typing.get_origin(tp) is typing.Literal:
        return typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            found = choices(arg)
            if found is not None:
                return found
    return None


def is_param_type(tp: Any) -> bool:
    """True for the types a parameter may have: bool, int, float, str, list, dict, their generics, X | None, and
    `Literal[...]` of str or int values (a choice: catalogs, docs and compiled parameters list its values)."""
    origin = typing.get_origin(tp)
    if tp in SCALARS or tp in (list, dict):
        return True
    if origin is typing.Literal:
        values = typing.get_args(tp)
        return len({type(v) for v in values}) == 1 and type(values[0]) in (str, int)
    if origin in (list, dict):
        return True
    if origin in (typing.Union, types.UnionType):
        return all(arg is type(None) or is_param_type(arg) for arg in typing.get_args(tp))
    return False


def coerce(name: str, tp: Any, value: Any, *, from_text: bool = False) -> Any:
    """Check `value` against `tp` and return it in canonical form.

    With from_text=True, `value` is a string from the command line: numbers and booleans are parsed,
    lists and dicts are read as JSON.
    """
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (from_text and str(value).lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(name, arg, value, from_text=from_text)
            except ParamError as exc:
                errors.append(str(exc))
        raise ParamError(f"param {name}={value!r} does not fit {type_name(tp)}")
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        value = coerce(name, type(allowed[0]), value, from_text=from_text)
        if value not in allowed:
            raise ParamError(
                f"param {name}={value!r} is not one of its choices: pass one of {', '.join(map(repr, allowed))}"
            )
        return value
    base = origin or tp
    if from_text and isinstance(value, str):
        value = _parse_text(name, base, value)
    if base is bool:
        if isinstance(value, bool):
            return value
        raise _mismatch(name, tp, value)
    if base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _mismatch(name, tp, value)
    if base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _mismatch(name, tp, value)
    if base is str:
        if isinstance(value, str):
            return value
        raise _mismatch(name, tp, value)
    if base is list:
        if not isinstance(value, (list, tuple)):
            raise _mismatch(name, tp, value)
        args = typing.get_args(tp)
        return [coerce(f"{name}[{i}]", args[0], v) for i, v in enumerate(value)] if args else list(value)
    if base is dict:
        if not isinstance(value, dict):
            raise _mismatch(name, tp, value)
        args = typing.get_args(tp)
        if args:
            return {coerce(f"{name} key", args[0], k): coerce(f"{name}[{k!r}]", args[1], v) for k, v in value.items()}
        return dict(value)
    raise ParamError(
        f"param {name} has type {type_name(tp)}, which greenpipe cannot pass: use bool, int, float, str, list or dict"
    )


def _parse_text(name: str, base: Any, text: str) -> Any:
    try:
        if base is bool:
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError(text)
        if base is int:
            return int(text)
        if base is float:
            return float(text)
        if base in (list, dict):
            return json.loads(text)
    except ValueError:
        raise ParamError(
            f"param {name}={text!r} is not {'an' if base is int else 'a'} {base.__name__}: give e.g. "
            + {bool: "true or false", int: "42", float: "0.1", list: "'[1, 2]'", dict: "'{\"a\": 1}'"}[base]
        ) from None
    return text


def _mismatch(name: str, tp: Any, value: Any) -> ParamError:
    return ParamError(
        f"param {name}={value!r} is a {type(value).__name__}, but {name} takes {type_name(tp)}: pass a {type_name(tp)}"
    )


def canonical_json(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, floats in their exact shortest repr (1.0 stays 1.0)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)


def name_value_pairs(items: list[str], flag: str, example: str = "threshold=0.1") -> dict[str, str]:
    """`NAME=VALUE` texts from the command line (`--param`, `--input`, ...) as a dict; names are stripped."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParamError(f"{flag} {item!r} is not NAME=VALUE: write e.g. {flag} {example}")
        out[name.strip()] = value
    return out

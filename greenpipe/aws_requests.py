"""Check an AWS API request offline against botocore's bundled service model: the one validator behind every
request greenpipe generates (pipeline definitions, deploy, components' SageMaker requests).

botocore's ParamValidator checks types, required members and minimum lengths; it leaves enums, patterns,
maximum lengths and numeric ranges to the service (it accepts Strategy "bayesian"). `shape_problems` adds
those from the same model. botocore is imported only when a request is checked.
"""

from __future__ import annotations

import functools
import re
from typing import Any


@functools.lru_cache(maxsize=8)
def service_model(service: str = "sagemaker") -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def input_shape(operation: str, service: str = "sagemaker") -> Any:
    return service_model(service).operation_model(operation).input_shape


def request_problems(operation: str, request: dict[str, Any], service: str = "sagemaker") -> list[str]:
    """Every way `request` breaks `operation`'s input shape: botocore's own report, then the constraints it
    leaves out. Empty when the request is valid."""
    from botocore.validate import ParamValidator

    shape = input_shape(operation, service)
    problems: list[str] = []
    report = ParamValidator().validate(request, shape)
    if report.has_errors():  # one line per problem (the "Parameter validation failed" header is the exception's)
        problems += [line.strip() for line in report.generate_report().splitlines() if line.strip()]
    return problems + shape_problems(request, shape, operation)


@functools.lru_cache(maxsize=512)
def _pattern(text: str) -> re.Pattern[str] | None:
    """An AWS (Java) pattern compiled in Python: \\p{L}-style Unicode classes become explicit ranges, and a
    quantified end anchor (`${1,128}`, legal in Java, an error in Python) becomes a plain `$`."""
    text = re.sub(r"\$\{\d+(,\d*)?\}", "$", text)
    try:
        return re.compile(re.sub(r"\\p\{(\w)\}", lambda m: _category_ranges().get(m.group(1), ""), text))
    except re.error:  # a construct Python cannot express: botocore's model is the reference, not Python's re
        return None


@functools.lru_cache(maxsize=1)
def _category_ranges() -> dict[str, str]:
    """For each major Unicode category (L, M, N, P, S, Z, C), a regex class body of its code point ranges."""
    import unicodedata

    ranges: dict[str, list[list[int]]] = {}
    for cp in range(0x110000):
        spans = ranges.setdefault(unicodedata.category(chr(cp))[0], [])
        if spans and spans[-1][1] == cp - 1:
            spans[-1][1] = cp
        else:
            spans.append([cp, cp])
    return {
        major: "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in spans)
        for major, spans in ranges.items()
    }


def string_problems(value: str, shape: Any) -> list[str]:
    out = []
    meta = shape.metadata
    if shape.enum and value not in shape.enum:
        out.append(f"{value!r} is not one of {', '.join(shape.enum)}")
    if "max" in meta and len(value) > meta["max"]:
        out.append(f"{value[:40]!r}... is {len(value)} characters, more than {meta['max']}")
    if "min" in meta and len(value) < meta["min"]:
        out.append(f"{value!r} is shorter than {meta['min']}")
    pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
    if pattern is not None and not pattern.fullmatch(value):
        out.append(f"{value!r} does not match the pattern {meta['pattern']}")
    return out


def shape_problems(value: Any, shape: Any, path: str) -> list[str]:
    """Enum, pattern, maximum-length and range problems botocore's validator does not report."""
    kind = shape.type_name
    meta = shape.metadata
    problems: list[str] = []
    if kind == "string" and isinstance(value, str):
        problems += [f"{path}={p}" for p in string_problems(value, shape)]
    elif kind in ("integer", "long", "float", "double") and isinstance(value, (int, float)):
        if "max" in meta and value > meta["max"]:
            problems.append(f"{path}: {value} is more than {meta['max']}")
        if "min" in meta and value < meta["min"]:  # botocore's validator leaves numeric minimums to the service
            problems.append(f"{path}: {value} is less than {meta['min']}")
    elif kind == "structure" and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members:
                problems += shape_problems(item, shape.members[key], f"{path}.{key}")
    elif kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} items, more than {meta['max']}")
        for i, item in enumerate(value):
            problems += shape_problems(item, shape.member, f"{path}[{i}]")
    elif kind == "map" and isinstance(value, dict):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} entries, more than {meta['max']}")
        for key, item in value.items():
            problems += shape_problems(key, shape.key, f"{path} key")
            problems += shape_problems(item, shape.value, f"{path}[{key!r}]")
    return problems

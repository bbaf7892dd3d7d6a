"""Check a SageMaker pipeline definition offline, against botocore's bundled service model.

botocore's ParamValidator checks types, required members and minimum lengths; it leaves out enums, patterns,
maximum lengths and ranges (it accepts Strategy "bayesian"). `greenpipe.aws_requests.shape_problems` adds those
from the same model.
Pipeline references ({"Get": ...}, {"Std:Join": ...}, {"Std:JsonGet": ...}) stand where the API expects a
value: each is replaced by a placeholder of the right shape first (a Join is rendered with its literal parts,
so a built S3 URI is still checked against the S3Uri pattern).
"""

from __future__ import annotations

import json
import re
from typing import Any

from greenpipe.aws_requests import input_shape, request_problems, string_problems
from greenpipe.errors import CompileError

OPERATIONS = {
    "Processing": ("CreateProcessingJob", "ProcessingJobName"),
    "Training": ("CreateTrainingJob", "TrainingJobName"),
    "Tuning": ("CreateHyperParameterTuningJob", "HyperParameterTuningJobName"),
}
PLACEHOLDER_NAME = "greenpipe-placeholder"
_EXPRESSIONS = ("Get", "Std:Join", "Std:JsonGet")
_STRING_CANDIDATES = (
    "s3://greenpipe-placeholder/key",
    "arn:aws:iam::123456789012:role/greenpipe-placeholder",
    "greenpipe-placeholder",
    "placeholder",
    "0",
)
STEP_NAME = re.compile(r"[A-Za-z0-9\-_]{1,64}")
CONDITION_TYPES = {"Equals", "GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo", "In", "Not", "Or"}


def is_expression(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _EXPRESSIONS


def validate_request(
    operation: str, params: dict[str, Any], *, where: str, defaults: dict[str, Any] | None = None
) -> None:
    """Raise CompileError listing every way `params` breaks the input shape of `operation`."""
    concrete = substitute(params, input_shape(operation), defaults or {})
    problems = request_problems(operation, concrete)
    if problems:
        raise CompileError(f"{where}: the {operation} request is invalid:\n  " + "\n  ".join(problems))


def substitute(value: Any, shape: Any, defaults: dict[str, Any]) -> Any:
    """`value` with every pipeline reference replaced by a placeholder that fits `shape`."""
    if is_expression(value):
        return _placeholder(value, shape, defaults)
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: substitute(v, shape.members[k], defaults) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [substitute(v, shape.member, defaults) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: substitute(v, shape.value, defaults) for k, v in value.items()}
    return value


def render(value: Any, defaults: dict[str, Any]) -> str:
    """A reference as text: a Join of its parts, a parameter's default, or a short stand-in."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and "Std:Join" in value:
        join = value["Std:Join"]
        return str(join["On"]).join(render(v, defaults) for v in join["Values"])
    if isinstance(value, dict) and "Get" in value and value["Get"].startswith("Parameters."):
        default = defaults.get(value["Get"][len("Parameters.") :])
        if default is not None:
            return render(default, defaults)
    return "x0"


def _placeholder(expr: dict[str, Any], shape: Any, defaults: dict[str, Any]) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        return max(int(shape.metadata.get("min", 1)), 1)
    if kind in ("float", "double"):
        return float(shape.metadata.get("min", 1.0))
    if kind == "boolean":
        return True
    if kind != "string":
        raise CompileError(
            f"a pipeline reference {json.dumps(expr)} stands where {shape.name} ({kind}) is "
            "expected; SageMaker resolves references only to scalars"
        )
    if shape.enum:
        return shape.enum[0]  # chosen at run time; the value cannot be checked here
    if "Std:Join" in expr or ("Get" in expr and render(expr, defaults) != "x0"):
        return render(expr, defaults)
    for candidate in _STRING_CANDIDATES:
        if not string_problems(candidate, shape):
            return candidate
    return "x0"


def validate_definition(definition: dict[str, Any]) -> None:
    """Every job step against its Create* call; every reference resolves; condition steps are well formed."""
    if definition.get("Version") != "2020-12-01":
        raise CompileError(f"definition Version={definition.get('Version')!r}: SageMaker Pipelines reads 2020-12-01")
    params = {p["Name"]: p for p in definition.get("Parameters", [])}
    defaults = {name: p.get("DefaultValue") for name, p in params.items()}
    steps = list(_all_steps(definition.get("Steps", [])))
    names = [s["Name"] for s in steps]
    for name in names:
        if not STEP_NAME.fullmatch(name) or names.count(name) > 1:
            raise CompileError(f"step name {name!r} is invalid or used twice (1-64 letters, digits, - or _)")
    property_files = {
        f"Steps.{s['Name']}.PropertyFiles.{pf['PropertyFileName']}" for s in steps for pf in s.get("PropertyFiles", [])
    }
    for step in steps:
        where = f"step {step['Name']}"
        _check_references(step, where, params, set(names), property_files)
        _check_cache(step, where)
        if step["Type"] == "Condition":
            _check_condition_step(step, where)
            continue
        if step["Type"] not in OPERATIONS:
            raise CompileError(f"{where}: step type {step['Type']!r} is not one greenpipe compiles to")
        operation, name_key = OPERATIONS[step["Type"]]
        request = dict(step["Arguments"])
        request[name_key] = PLACEHOLDER_NAME  # the pipeline names each job when it runs
        validate_request(operation, request, where=where, defaults=defaults)
        for pf in step.get("PropertyFiles", []):
            outputs = [o["OutputName"] for o in step["Arguments"].get("ProcessingOutputConfig", {}).get("Outputs", [])]
            if step["Type"] != "Processing" or pf["OutputName"] not in outputs:
                raise CompileError(
                    f"{where}: property file {pf['PropertyFileName']} reads output "
                    f"{pf['OutputName']!r}, which this step does not write"
                )


def _all_steps(steps: list[dict[str, Any]]) -> Any:
    for step in steps:
        yield step
        if step.get("Type") == "Condition":
            yield from _all_steps(step["Arguments"].get("IfSteps", []))
            yield from _all_steps(step["Arguments"].get("ElseSteps", []))


def _check_references(
    step: dict[str, Any], where: str, params: dict[str, Any], names: set[str], property_files: set[str]
) -> None:
    body = {k: v for k, v in step.items() if k != "Arguments"}
    args = step["Arguments"]
    if step["Type"] == "Condition":
        args = {"Conditions": args["Conditions"]}
    for ref in _gets({"body": body, "args": args}):
        if ref.startswith("Parameters."):
            if ref[len("Parameters.") :] not in params:
                raise CompileError(f"{where}: references {ref}, which is not a pipeline parameter")
        elif ref.startswith("Steps."):
            target = ref.split(".")[1]
            if target not in names or target == step["Name"]:
                raise CompileError(f"{where}: references {ref}, which names no other step")
            if ".PropertyFiles." in ref and ref not in property_files:
                raise CompileError(f"{where}: references {ref}, a property file no step declares")
        elif not ref.startswith("Execution."):
            raise CompileError(f"{where}: reference {ref!r} is not Parameters.*, Steps.* or Execution.*")


def _gets(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"Get"} and isinstance(value["Get"], str):
            yield value["Get"]
            return
        for item in value.values():
            yield from _gets(item)
    elif isinstance(value, list):
        for item in value:
            yield from _gets(item)


def _check_cache(step: dict[str, Any], where: str) -> None:
    if step["Type"] == "Condition":
        return
    cache = step.get("CacheConfig")
    if not isinstance(cache, dict) or not isinstance(cache.get("Enabled"), bool):
        raise CompileError(f"{where}: CacheConfig {{Enabled, ExpireAfter}} is missing")
    if cache["Enabled"]:
        text = cache.get("ExpireAfter", "")
        if not re.fullmatch(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?)?", text or ""):
            raise CompileError(f"{where}: CacheConfig.ExpireAfter={text!r} is not an ISO-8601 duration like P30D")


def _check_condition_step(step: dict[str, Any], where: str) -> None:
    args = step["Arguments"]
    if not args.get("Conditions"):
        raise CompileError(f"{where}: a Condition step needs at least one condition")
    for cond in args["Conditions"]:
        _check_condition(cond, where)


def _check_condition(cond: dict[str, Any], where: str) -> None:
    if cond.get("Type") not in CONDITION_TYPES:
        raise CompileError(f"{where}: condition type {cond.get('Type')!r} is not one of {sorted(CONDITION_TYPES)}")
    if cond["Type"] == "Not":
        _check_condition(cond["Condition"], where)
    elif cond["Type"] == "Or":
        for inner in cond["Conditions"]:
            _check_condition(inner, where)
    elif "LeftValue" not in cond or "RightValue" not in cond:
        raise CompileError(f"{where}: condition {cond['Type']} needs LeftValue and RightValue")

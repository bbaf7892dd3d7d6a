"""A greenpipe step as a KFP lightweight component: generated source, pinned image, code fingerprint inside.

KFP reads a lightweight component's interface from the function's signature and ships the function's SOURCE
in the container command, so each step gets a small generated function with KFP annotations whose body calls
`greenpipe.backends.kfp_runtime.run_step` on the step's `module:qualname`. The source is registered with
linecache under a pseudo file name so `inspect.getsource` (which KFP uses) can read it.
"""

from __future__ import annotations

import keyword
import linecache
import math
import re
import types
import typing
from typing import Any

from greenpipe.errors import CompileError
from greenpipe.params import canonical_json, type_name
from greenpipe.step import REQUIRED, Step

CODE_PARAM = "greenpipe_code"
DATA_PARAM = "greenpipe_data"
RESERVED = (CODE_PARAM, DATA_PARAM, "Output", "executor_input")

KFP_ARTIFACT = {
    "dataset": "Dataset",
    "model": "Model",
    "metrics": "Metrics",
    "report": "Artifact",
    "artifact": "Artifact",
}
_SCALAR_NAMES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}


def json_encoded(tp: Any) -> bool:
    """A param typed as a union of several types (e.g. `list | dict | None`) passes through KFP as JSON text:
    KFP parameters have exactly one type. So does `int | None`: kfp.local (2.17) casts every integer parameter
    with int(), which fails on a None value."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return False
    members = [a for a in typing.get_args(tp) if a is not type(None)]
    return len(members) > 1 or members == [int]


def kfp_param_type(owner: str, name: str, tp: Any) -> tuple[str, bool]:
    """The KFP annotation for a greenpipe param type, and whether None is allowed.

    `list[str]` passes as `list`, `int | None` as `int` with a None default, and a union of several types as
    `str` holding JSON: greenpipe re-checks the value against the exact declared type inside the container.
    """
    if json_encoded(tp):
        for arg in typing.get_args(tp):
            if arg is not type(None):
                kfp_param_type(owner, name, arg)
        return "str", False
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        arg = next(a for a in typing.get_args(tp) if a is not type(None))
        return kfp_param_type(owner, name, arg)[0], True
    base = type(typing.get_args(tp)[0]) if origin is typing.Literal else origin or tp  # a choice: KFP has no enum
    if base not in _SCALAR_NAMES:
        raise CompileError(f"{owner}: param {name} has type {type_name(tp)}, which KFP cannot pass")
    return _SCALAR_NAMES[base], False


def kfp_value(owner: str, name: str, tp: Any, value: Any) -> Any:
    """`value` as KFP carries it (JSON text for a union type); refuses what KFP's JSON cannot hold."""
    _check_finite(owner, name, value)
    return canonical_json(value) if json_encoded(tp) else value


def _check_finite(owner: str, name: str, value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise CompileError(
            f"{owner}: param {name} is {value!r}; KFP stores parameters as JSON, which has no NaN or infinity: "
            "use a finite value"
        )
    if isinstance(value, (list, dict)):
        for item in value.values() if isinstance(value, dict) else value:
            _check_finite(owner, name, item)


def function_name(step: Step) -> str:
    """A Python identifier for the step (KFP derives the component name from the function name)."""
    name = re.sub(r"\W", "_", step.spec.name)
    if not name or name[0].isdigit() or keyword.iskeyword(name):
        name = f"step_{name}"
    return name


def component_source(step: Step) -> str:
    """The source of the generated component function for `step`."""
    spec = step.spec
    owner = f"step {spec.name}"
    names = [p.name for p in spec.params] + [a.name for a in spec.inputs + spec.outputs] + [v.name for v in spec.values]
    for name in names:
        if name in RESERVED:
            raise CompileError(f"{owner}: the name {name!r} is reserved by the KFP backend; rename it")
    outputs = [a.name for a in spec.outputs] + [v.name for v in spec.values]
    clashes = sorted({n for n in outputs if outputs.count(n) > 1})
    if clashes:
        raise CompileError(
            f"{owner}: {clashes} name both an output artifact and a returned value; KFP keeps one namespace for "
            "a component's outputs: rename one"
        )
    required: list[str] = []
    optional: list[str] = []
    for art in spec.inputs:
        annotation = f"Input[{KFP_ARTIFACT[art.kind]}]"
        (optional if art.optional else required).append(
            f"{art.name}: {annotation}" + (" = None" if art.optional else "")
        )
    for art in spec.outputs:
        required.append(f"{art.name}: Output[{KFP_ARTIFACT[art.kind]}]")
    for param in spec.params:
        annotation, _ = kfp_param_type(owner, param.name, param.type)
        if param.default is REQUIRED:
            required.append(f"{param.name}: {annotation}")
        else:
            optional.append(f"{param.name}: {annotation} = {kfp_value(owner, param.name, param.type, param.default)!r}")
    optional.append(f"{CODE_PARAM}: str = {step.fingerprint().digest!r}")
    if spec.inputs:
        optional.append(f"{DATA_PARAM}: str = ''")
    returns = ""
    if spec.values:
        fields = ", ".join(f"({v.name!r}, {_SCALAR_NAMES[v.type]})" for v in spec.values)
        returns = f" -> NamedTuple('Outputs', [{fields}])"
    passed = [p.name for p in spec.params] + [a.name for a in spec.inputs + spec.outputs]
    arguments = ", ".join(f"{n!r}: {n}" for n in passed)
    signature = ",\n    ".join(required + optional)
    return (
        f"def {function_name(step)}(\n    {signature},\n){returns}:\n"
        f"    {spec.description!r}\n"
        f"    # {CODE_PARAM} is the step's code fingerprint: KFP keys its cache on inputs, not on the code in the\n"
        f"    # image. {DATA_PARAM} carries content digests of data imported from outside the pipeline.\n"
        "    from greenpipe.backends.kfp_runtime import run_step\n\n"
        f"    return run_step({spec.ref!r}, {{{arguments}}})\n"
    )


def component_function(step: Step) -> Any:
    """The generated function, with KFP annotations and source that inspect.getsource can read."""
    source = component_source(step)
    return _define(source, function_name(step), f"<greenpipe-kfp {step.spec.ref} {step.fingerprint().digest}>")


def _define(source: str, name: str, filename: str) -> Any:
    from kfp import dsl

    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {
        "__name__": __name__,
        "NamedTuple": typing.NamedTuple,
        "Input": dsl.Input,
        "Output": dsl.Output,
        **{cls: getattr(dsl, cls) for cls in set(KFP_ARTIFACT.values())},
    }
    exec(compile(source, filename, "exec", dont_inherit=True), namespace)  # noqa: S102 - our own generated source
    return namespace[name]


def step_component(step: Step, image: str | None = None) -> Any:
    """A KFP lightweight component that runs `step` in the greenpipe image (kfp is not installed at run time:
    the image already has it)."""
    from kfp import dsl

    from greenpipe.backends.image import default_image

    return dsl.component(component_function(step), base_image=image or default_image(), install_kfp_package=False)


def condition_component(value_type: Any, operand_type: Any, image: str | None = None) -> Any:
    """A one-output component that evaluates `value op operand`: kfp.local (2.17) resolves a dsl.If condition
    only on a task's single `Output`, not on a named output, so local runs gate on this task's result."""
    from kfp import dsl

    from greenpipe.backends.image import default_image

    value = kfp_param_type("when()", "value", value_type)[0]
    operand = kfp_param_type("when()", "operand", operand_type)[0]
    source = (
        f"def greenpipe_when(value: {value}, operand: {operand}, op: str) -> bool:\n"
        "    'Evaluate one when() comparison of a step value.'\n"
        "    import operator\n\n"
        "    ops = {'==': operator.eq, '!=': operator.ne, '<': operator.lt, '<=': operator.le, '>': operator.gt,\n"
        "           '>=': operator.ge}\n"
        "    return bool(ops[op](value, operand))\n"
    )
    function = _define(source, "greenpipe_when", f"<greenpipe-kfp when {value} {operand}>")
    return dsl.component(function, base_image=image or default_image(), install_kfp_package=False)


def component_yaml(step: Step, out_path: str, image: str | None = None) -> None:
    """Write the step's KFP component YAML (loadable with kfp.components.load_component_from_file)."""
    from kfp import compiler

    from greenpipe.artifacts import write_atomic

    write_atomic(out_path, lambda tmp: compiler.Compiler().compile(step_component(step, image), tmp))

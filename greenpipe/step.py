"""@step: a typed plain-Python function plus the spec that lets every runtime run it the same way."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from greenpipe.artifacts import ARTIFACT_KINDS, Artifact, output_kind
from greenpipe.building import building
from greenpipe.docstring import arg_docs
from greenpipe.durations import parse_duration
from greenpipe.errors import SpecError
from greenpipe.params import SCALARS, choices, coerce, is_param_type, mentions_code_ref, type_name

if TYPE_CHECKING:
    from greenpipe.fingerprint import Fingerprint
    from greenpipe.tuning_hook import TuningHook

RUNTIMES = ("processing", "training", "tuning")
REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Resources:
    """What one execution of a step needs. `spot` says it may run on interruptible capacity."""

    cpu: float = 1.0
    memory_gb: float = 2.0
    gpu: int = 0
    spot: bool = False

    def __post_init__(self) -> None:
        for name in ("cpu", "memory_gb"):
            if getattr(self, name) <= 0:
                raise SpecError(f"Resources.{name}={getattr(self, name)!r} must be > 0")
        if self.gpu < 0:
            raise SpecError(f"Resources.gpu={self.gpu!r} must be >= 0")


@dataclass(frozen=True)
class CachePolicy:
    """Whether a step's results are reused, and for how long (`expire_after`, ISO-8601 like 'P30D')."""

    enabled: bool = True
    expire_after: str | None = None

    def __post_init__(self) -> None:
        if self.expire_after is not None:
            parse_duration(self.expire_after, field="CachePolicy.expire_after")

    @property
    def expire_after_s(self) -> float | None:
        return None if self.expire_after is None else parse_duration(self.expire_after)


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: Any
    default: Any = REQUIRED
    code_ref: bool = False  # declared as CodeRef: the code it names joins the cache key
    doc: str = ""  # from the step docstring's Args section

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def choices(self) -> tuple[Any, ...] | None:
        """The allowed values when the param is a `Literal[...]`."""
        return choices(self.type)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": type_name(self.type), "required": self.required}
        if self.code_ref:
            out["code_ref"] = True
        if not self.required:
            out["default"] = self.default
        if self.choices is not None:
            out["choices"] = list(self.choices)
        if self.doc:
            out["description"] = self.doc
        return out


@dataclass(frozen=True)
class ArtifactSpec:
    name: str
    kind: str
    optional: bool = False
    doc: str = ""  # from the step docstring's Args section

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "optional": self.optional}
        if self.doc:
            out["description"] = self.doc
        return out


@dataclass(frozen=True)
class ValueSpec:
    """A small typed value a step returns (a field of its NamedTuple return type); conditions read these."""

    name: str
    type: Any

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": type_name(self.type)}


@dataclass(frozen=True)
class StepSpec:
    """Everything a runtime needs to run or compile a step, without special cases."""

    name: str
    description: str
    module: str
    qualname: str
    params: tuple[ParamSpec, ...]
    inputs: tuple[ArtifactSpec, ...]
    outputs: tuple[ArtifactSpec, ...]
    values: tuple[ValueSpec, ...]
    resources: Resources = field(default_factory=Resources)
    cache: CachePolicy = field(default_factory=CachePolicy)
    runtime: str = "processing"
    varies: str = ""  # why the outputs differ between runs on the same inputs ("" = they do not)
    tuning: str = ""  # "module:attr" of a TuningHook (greenpipe.tuning_hook) for a runtime="tuning" step

    @property
    def ref(self) -> str:
        """`module:qualname`, how a container finds the function."""
        return f"{self.module}:{self.qualname}"

    def param(self, name: str) -> ParamSpec:
        for spec in self.params:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def with_defaults(self, params: dict[str, Any]) -> dict[str, Any]:
        """`params` plus the declared default of every optional param they leave out (defaults are part of what
        a step runs with: the cache keys on them, and a check or a compiled request reads them)."""
        missing = {spec.name: spec.default for spec in self.params if not spec.required and spec.name not in params}
        return {**params, **missing}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "ref": self.ref,
            "runtime": self.runtime,
            "params": [p.to_dict() for p in self.params],
            "inputs": [a.to_dict() for a in self.inputs],
            "outputs": [a.to_dict() for a in self.outputs],
            "values": [v.to_dict() for v in self.values],
            "resources": {
                "cpu": self.resources.cpu,
                "memory_gb": self.resources.memory_gb,
                "gpu": self.resources.gpu,
                "spot": self.resources.spot,
            },
            "cache": {"enabled": self.cache.enabled, "expire_after": self.cache.expire_after},
            **({"varies": self.varies} if self.varies else {}),
        }


class Step:
    """A decorated step function. Called inside a @pipeline it adds a task; called elsewhere it just runs."""

    def __init__(self, fn: Callable[..., Any], spec: StepSpec, check: Callable[..., None] | None = None):
        self.fn = fn
        self.spec = spec
        self.check = check  # called with the step's params before a run starts; raises ParamError
        functools.update_wrapper(self, fn)
        self._fingerprint: Fingerprint | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def check_params(self, params: dict[str, Any]) -> None:
        """Run the step's `check` (if it declares one) on the params it names (all of them if it takes
        **kwargs), before anything runs or is submitted; it raises ParamError for a bad value."""
        if self.check is None:
            return
        signature = inspect.signature(self.check).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.values()):
            params = {name: value for name, value in params.items() if name in signature}
        self.check(**params)

    def fingerprint(self) -> Fingerprint:
        """The code fingerprint (see greenpipe.fingerprint), computed once per process."""
        if self._fingerprint is None:
            from greenpipe.fingerprint import code_fingerprint

            self._fingerprint = code_fingerprint(self.fn)
        return self._fingerprint

    def returned_values(self, returned: Any, where: str | None = None) -> dict[str, Any]:
        """What the function returned, checked against its declared values (`{}` for a step with none)."""
        where = where or self.name
        specs = self.spec.values
        if not specs:
            return {}
        if returned is None:
            raise SpecError(f"step {where} declares values {[v.name for v in specs]} but returned None")
        names = [v.name for v in specs]
        if hasattr(returned, "_asdict") or isinstance(returned, dict):
            data = dict(returned._asdict() if hasattr(returned, "_asdict") else returned)
            missing, extra = [n for n in names if n not in data], sorted(set(data) - set(names), key=str)
            if missing or extra:
                raise SpecError(
                    f"step {where} returned fields {list(data)} but declares {names}"
                    + (f": missing {missing}" if missing else "")
                    + (f": unexpected {extra}" if extra else "")
                    + "; return the declared NamedTuple with every field"
                )
        elif isinstance(returned, tuple) and len(returned) == len(names):
            data = dict(zip(names, returned, strict=True))
        else:
            raise SpecError(
                f"step {where} returned {type(returned).__name__} {returned!r:.80} but declares values {names}: "
                "return the declared NamedTuple"
            )
        return {v.name: coerce(f"{where} value {v.name}", v.type, data[v.name]) for v in specs}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        graph = building()
        if graph is not None:
            if args:
                raise SpecError(f"step {self.name}: pass inputs and params by name inside a pipeline")
            return graph.add_task(self, kwargs)
        return self.fn(*args, **kwargs)

    def tuning_hook(self) -> TuningHook | None:
        """The TuningHook the step declares (`@step(tuning=...)`), else None."""
        if not self.spec.tuning:
            return None
        from greenpipe.refs import resolve_ref
        from greenpipe.tuning_hook import TuningHook

        hook = resolve_ref(self.spec.tuning, f"step {self.name}'s tuning hook")
        if not isinstance(hook, TuningHook):
            raise SpecError(
                f"step {self.name}: tuning={self.spec.tuning!r} is a {type(hook).__name__}, not a TuningHook: it needs "
                "trial_step, compile_params, reference_params and tuning_job(params) (see greenpipe.tuning_hook)"
            )
        return hook

    def __repr__(self) -> str:
        return f"<step {self.spec.ref}>"


def step(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    resources: Resources | None = None,
    cache: CachePolicy | None = None,
    runtime: str = "processing",
    check: Callable[..., None] | None = None,
    varies: str = "",
    tuning: str = "",
) -> Any:
    """Declare a step.

    Parameters annotated with an artifact class (`Dataset`, `Model`, ...) are inputs; `Output[Dataset]` are
    outputs the step writes; scalar, list and dict annotations are params. A NamedTuple return type declares
    small values (like `retrain: bool`) that `when(...)` can test.

    Args:
        description: one line for catalogs; defaults to the first line of the docstring.
        runtime: how remote backends run it: "processing", "training" (spot) or "tuning".
        check: a function called with the step's params it names, before a run starts, so a value out of range
            fails at once, with nothing recorded, instead of when the step is reached; raise a GreenpipeError.
        varies: for a step whose outputs cannot be the same bytes on the same inputs (they hold a measurement,
            or registry state), why; `plan` and `show` say it. Every other step must be byte-reproducible.
        tuning: for a runtime="tuning" step whose search ranges over something else than its own params,
            "module:attr" of its TuningHook (greenpipe.tuning_hook), read by the SageMaker backend.
    """
    if tuning and runtime != "tuning":
        raise SpecError(f"tuning={tuning!r} is for a runtime='tuning' step; this one has runtime={runtime!r}")

    def wrap(func: Callable[..., Any]) -> Step:
        spec = build_spec(func, name, description, resources, cache, runtime)
        return Step(func, dataclasses.replace(spec, varies=varies, tuning=tuning), check)

    return wrap(fn) if fn is not None else wrap


def build_spec(
    fn: Callable[..., Any],
    name: str | None,
    description: str | None,
    resources: Resources | None,
    cache: CachePolicy | None,
    runtime: str,
) -> StepSpec:
    """Read a step's spec from its signature; refuse what no runtime could pass."""
    step_name = name or fn.__name__
    if runtime not in RUNTIMES:
        raise SpecError(f"step {step_name}: runtime={runtime!r} is not one of {', '.join(RUNTIMES)}")
    try:
        hints = typing.get_type_hints(fn)
        extras = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # unresolved forward references
        raise SpecError(f"step {step_name}: cannot read its type hints ({exc}); import the names it uses") from exc
    params: list[ParamSpec] = []
    inputs: list[ArtifactSpec] = []
    outputs: list[ArtifactSpec] = []
    doc = inspect.getdoc(fn) or ""
    described = arg_docs(doc)
    for pname, parameter in inspect.signature(fn).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise SpecError(f"step {step_name}: *args/**kwargs ({pname}) cannot be passed; name each parameter")
        if pname not in hints:
            raise SpecError(
                f"step {step_name}: parameter {pname} has no type annotation; add one "
                f"(e.g. `{pname}: float` or `{pname}: Dataset`)"
            )
        hint = hints[pname]
        artifact, optional = _artifact_of(hint)
        written = output_kind(extras[pname])
        if written is not None:
            outputs.append(ArtifactSpec(pname, written.kind, doc=described.get(pname, "")))
        elif artifact is not None:
            optional = optional or parameter.default is None
            inputs.append(ArtifactSpec(pname, artifact.kind, optional, doc=described.get(pname, "")))
        elif is_param_type(hint):
            default = parameter.default
            if default is not REQUIRED:
                default = coerce(pname, hint, default)
            code_ref = mentions_code_ref(extras[pname])
            params.append(ParamSpec(pname, hint, default, code_ref=code_ref, doc=described.get(pname, "")))
        else:
            raise SpecError(
                f"step {step_name}: parameter {pname} has type {type_name(hint)}; use an artifact "
                "class, Output[...] or bool/int/float/str/list/dict"
            )
    values = _values_of(step_name, hints.get("return"))
    return StepSpec(
        name=step_name,
        description=description or (doc.splitlines()[0] if doc else step_name),
        module=fn.__module__,
        qualname=fn.__qualname__,
        params=tuple(params),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        values=values,
        resources=resources or Resources(),
        cache=cache or CachePolicy(),
        runtime=runtime,
    )


def _artifact_of(hint: Any) -> tuple[type[Artifact] | None, bool]:
    if isinstance(hint, type) and issubclass(hint, Artifact):
        return hint, False
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if len(args) == 1 and type(None) in typing.get_args(hint) and isinstance(args[0], type):
        if issubclass(args[0], Artifact):
            return args[0], True
    return None, False


def _values_of(step_name: str, ret: Any) -> tuple[ValueSpec, ...]:
    if ret is None or ret is type(None):
        return ()
    fields = typing.get_type_hints(ret) if isinstance(ret, type) and issubclass(ret, tuple) else None
    if not (isinstance(ret, type) and issubclass(ret, tuple) and fields):
        raise SpecError(
            f"step {step_name}: return type {type_name(ret)} is not allowed; return None and write "
            "Output[...] artifacts, or return a typing.NamedTuple of bool/int/float/str values"
        )
    specs = []
    for fname, ftype in fields.items():
        if ftype not in SCALARS:
            raise SpecError(
                f"step {step_name}: returned value {fname} has type {type_name(ftype)}; "
                "values must be bool, int, float or str"
            )
        specs.append(ValueSpec(fname, ftype))
    return tuple(specs)


def artifact_class(kind: str) -> type[Artifact]:
    return ARTIFACT_KINDS[kind]

"""@pipeline: calling steps inside a function builds a DAG of tasks; `when(cond)` makes tasks conditional."""

from __future__ import annotations

import contextlib
import inspect
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from greenpipe.artifacts import Artifact
from greenpipe.building import building, building_graph
from greenpipe.errors import GreenpipeError, ParamError, SpecError, StepNotFound
from greenpipe.params import coerce, is_param_type, type_name
from greenpipe.step import REQUIRED, Step


@dataclass(frozen=True, eq=False)
class PipelineParam:
    """A pipeline parameter inside the pipeline body; bound to its value when the pipeline runs."""

    name: str
    type: Any
    default: Any = REQUIRED

    @property
    def is_artifact(self) -> bool:
        return isinstance(self.type, type) and issubclass(self.type, Artifact)


@dataclass(frozen=True, eq=False)
class OutputRef:
    """An artifact output of a task, passed to another task's input."""

    task: Task
    name: str
    kind: str


@dataclass(frozen=True, eq=False)
class ValueRef:
    """A value a task returns (a NamedTuple field). Compare it to build a Condition for `when`."""

    task: Task
    name: str
    type: Any

    def _cond(self, op: str, operand: Any) -> Condition:
        return Condition(self, op, operand)

    def __eq__(self, other: Any) -> Condition:  # type: ignore[override]
        return self._cond("==", other)

    def __ne__(self, other: Any) -> Condition:  # type: ignore[override]
        return self._cond("!=", other)

    def __lt__(self, other: Any) -> Condition:
        return self._cond("<", other)

    def __le__(self, other: Any) -> Condition:
        return self._cond("<=", other)

    def __gt__(self, other: Any) -> Condition:
        return self._cond(">", other)

    def __ge__(self, other: Any) -> Condition:
        return self._cond(">=", other)

    __hash__ = object.__hash__


# the comparisons `when` takes; applied to KFP's output channels too, where they build KFP's own conditions
OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@dataclass(frozen=True, eq=False)
class Condition:
    """`ref op operand`; a bare ValueRef in `when` means `ref == True`."""

    ref: ValueRef
    op: str
    operand: Any

    def holds(self, value: Any) -> bool:
        return bool(OPERATORS[self.op](value, self.operand))

    def describe(self) -> str:
        return f"{self.ref.task.name}.{self.ref.name} {self.op} {self.operand!r}"


@dataclass(eq=False)
class Task:
    """One call of a step inside a pipeline."""

    name: str
    step: Step
    params: dict[str, Any]  # constants or PipelineParam
    inputs: dict[str, OutputRef | PipelineParam]
    conditions: tuple[Condition, ...] = ()
    outputs: dict[str, OutputRef] = field(default_factory=dict)
    values: dict[str, ValueRef] = field(default_factory=dict)

    def __getattr__(self, item: str) -> Any:
        if item.startswith("__"):
            raise AttributeError(item)
        if item in self.outputs:
            return self.outputs[item]
        if item in self.values:
            return self.values[item]
        raise AttributeError(
            f"task {self.name} has no output or value {item!r}; it has {sorted([*self.outputs, *self.values])}"
        )

    @property
    def output(self) -> OutputRef:
        """The only artifact output of a one-output step."""
        if len(self.outputs) != 1:
            raise SpecError(f"task {self.name} has {len(self.outputs)} outputs; name one: {sorted(self.outputs)}")
        return next(iter(self.outputs.values()))

    def upstream(self) -> list[Task]:
        """Tasks this one depends on, through its inputs or its conditions."""
        seen: dict[int, Task] = {}
        for ref in self.inputs.values():
            if isinstance(ref, OutputRef):
                seen[id(ref.task)] = ref.task
        for cond in self.conditions:
            seen[id(cond.ref.task)] = cond.ref.task
        return list(seen.values())


class Graph:
    """The tasks of one pipeline build, in the order they were called (a topological order)."""

    def __init__(self, pipeline_name: str):
        self.pipeline_name = pipeline_name
        self.tasks: list[Task] = []
        self._conditions: list[Condition] = []

    def add_task(self, step: Step, kwargs: dict[str, Any]) -> Task:
        spec = step.spec
        name = spec.name
        taken = {t.name for t in self.tasks}
        n = 2
        while name in taken:
            name, n = f"{spec.name}-{n}", n + 1
        known = {p.name for p in spec.params} | {i.name for i in spec.inputs}
        for key in kwargs:
            if key not in known:
                outs = {o.name for o in spec.outputs}
                hint = " (outputs are written by the step, not passed in)" if key in outs else ""
                raise SpecError(f"step {spec.name} has no input or param {key!r}{hint}; it takes {sorted(known)}")
        params: dict[str, Any] = {}
        for pspec in spec.params:
            if pspec.name in kwargs:
                value = kwargs[pspec.name]
                if isinstance(value, (OutputRef, ValueRef)):
                    raise SpecError(
                        f"step {spec.name}: param {pspec.name} got a task output; pass artifacts to "
                        "inputs and use values in when(...)"
                    )
                if not isinstance(value, PipelineParam) and _holds_param(value):
                    raise SpecError(
                        f"step {spec.name}: param {pspec.name} holds a pipeline parameter inside a list or dict; "
                        "a pipeline parameter can only be passed whole: give the step its own param for it"
                    )
                params[pspec.name] = (
                    value
                    if isinstance(value, PipelineParam)
                    else coerce(f"{spec.name}.{pspec.name}", pspec.type, value)
                )
            elif pspec.required:
                raise SpecError(f"step {spec.name}: param {pspec.name} ({type_name(pspec.type)}) is required")
        inputs: dict[str, OutputRef | PipelineParam] = {}
        for ispec in spec.inputs:
            ref = kwargs.get(ispec.name)
            if ref is None:
                if not ispec.optional:
                    raise SpecError(
                        f"step {spec.name}: input {ispec.name} ({ispec.kind}) is required; pass "
                        "another task's output, e.g. `data=load.outputs['data']`"
                    )
                continue
            if isinstance(ref, Task):
                ref = ref.output
            if not isinstance(ref, (OutputRef, PipelineParam)) or (
                isinstance(ref, PipelineParam) and not ref.is_artifact
            ):
                raise SpecError(
                    f"step {spec.name}: input {ispec.name} needs an artifact (a task output or a "
                    f"Dataset pipeline parameter), got {ref!r}"
                )
            inputs[ispec.name] = ref
        task = Task(name, step, params, inputs, tuple(self._conditions))
        task.outputs = {o.name: OutputRef(task, o.name, o.kind) for o in spec.outputs}
        task.values = {v.name: ValueRef(task, v.name, v.type) for v in spec.values}
        self.tasks.append(task)
        return task

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise StepNotFound(
            f"step {name!r} is not in pipeline {self.pipeline_name}; its steps are: "
            + ", ".join(t.name for t in self.tasks)
        )

    def downstream_of(self, names: list[str]) -> set[str]:
        """The named tasks and every task that depends on them."""
        marked = {self.task(n).name for n in names}
        for task in self.tasks:
            if any(up.name in marked for up in task.upstream()):
                marked.add(task.name)
        return marked


def _holds_param(value: Any) -> bool:
    if isinstance(value, (PipelineParam, OutputRef, ValueRef)):
        return True
    if isinstance(value, dict):
        return any(_holds_param(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_param(v) for v in value)
    return False


@contextlib.contextmanager
def when(condition: Condition | ValueRef) -> Iterator[None]:
    """Run the steps called inside this block only if `condition` holds at run time."""
    graph = building()
    if graph is None:
        raise SpecError("when(...) is used inside a @pipeline function body")
    if isinstance(condition, ValueRef):
        condition = Condition(condition, "==", True)
    if not isinstance(condition, Condition):
        raise SpecError(f"when() takes a task value or a comparison of one (e.g. `gate.retrain`), got {condition!r}")
    graph._conditions.append(condition)
    try:
        yield
    finally:
        graph._conditions.pop()


class Pipeline:
    """A decorated pipeline function. `build(params)` returns its Graph and its resolved parameters."""

    def __init__(self, fn: Callable[..., Any], name: str, description: str):
        self.fn = fn
        self.name = name
        self.description = description
        self.requires: Callable[[Any, dict[str, Any]], None] | None = None
        hints = typing.get_type_hints(fn)
        self.params: list[PipelineParam] = []
        for pname, parameter in inspect.signature(fn).parameters.items():
            tp = hints.get(pname)
            if tp is None:
                raise SpecError(f"pipeline {name}: parameter {pname} needs a type annotation")
            if not (is_param_type(tp) or (isinstance(tp, type) and issubclass(tp, Artifact))):
                raise SpecError(
                    f"pipeline {name}: parameter {pname} has type {type_name(tp)}; use a scalar, list, dict or Dataset"
                )
            default = parameter.default
            if default is not REQUIRED and is_param_type(tp):
                default = coerce(pname, tp, default)
            self.params.append(PipelineParam(pname, tp, default))

    def check_param_names(self, given: dict[str, Any]) -> None:
        """Refuse a param the pipeline does not have, naming the ones it has."""
        known = {p.name for p in self.params}
        for key in given:
            if key not in known:
                raise ParamError(
                    f"pipeline {self.name} has no param {key!r}; its params are: "
                    + (", ".join(sorted(known)) or "(none)")
                )

    def resolve_params(self, overrides: dict[str, Any] | None = None, *, from_text: bool = False) -> dict[str, Any]:
        """Defaults overlaid with overrides, each checked against its declared type."""
        overrides = dict(overrides or {})
        self.check_param_names(overrides)
        values: dict[str, Any] = {}
        for param in self.params:
            if param.name in overrides:
                raw = overrides[param.name]
                values[param.name] = (
                    str(raw) if param.is_artifact else coerce(param.name, param.type, raw, from_text=from_text)
                )
            elif param.default is REQUIRED:
                raise ParamError(
                    f"pipeline {self.name} needs param {param.name} ({type_name(param.type)}): "
                    f"pass --param {param.name}=..."
                )
            else:
                values[param.name] = param.default
        return values

    def build(self) -> Graph:
        """Run the pipeline body with placeholder params to record its tasks."""
        graph = Graph(self.name)
        try:
            with building_graph(graph):
                self.fn(**{p.name: p for p in self.params})
        except GreenpipeError:
            raise
        except Exception as exc:  # the body is user code; its parameters are placeholders, not values
            raise SpecError(
                f"pipeline {self.name} failed while building its graph: {type(exc).__name__}: {exc}. Inside a "
                "@pipeline body, parameters are placeholders: pass them to steps, do not compute with them"
            ) from exc
        if not graph.tasks:
            raise SpecError(f"pipeline {self.name} calls no step")
        return graph

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"


def pipeline(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    requires: Callable[[Any, dict[str, Any]], None] | None = None,
) -> Any:
    """Declare a pipeline: a function whose body calls steps and passes their outputs on.

    Args:
        requires: called with the store and the resolved params before a local run starts; raises a
            GreenpipeError when the run cannot succeed (retrain before any model was trained, say).
    """

    def wrap(func: Callable[..., Any]) -> Pipeline:
        doc = inspect.getdoc(func) or ""
        made = Pipeline(func, name or func.__name__, description or (doc.splitlines()[0] if doc else ""))
        made.requires = requires
        return made

    return wrap(fn) if fn is not None else wrap

"""The local runner: plan a pipeline, run what the cache cannot answer, record everything in the store."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from greenpipe import __version__
from greenpipe.artifacts import Artifact
from greenpipe.cache import KeyParts, explain_miss, lookup, previous_execution
from greenpipe.context import StepContext
from greenpipe.errors import InputMissing
from greenpipe.executor import execute
from greenpipe.fingerprint import Fingerprint, code_ref_fingerprint
from greenpipe.ledger import GridIntensity, co2e_g, energy_method, grid_intensity
from greenpipe.object_files import remove_object
from greenpipe.params import coerce
from greenpipe.pipeline import Graph, OutputRef, Pipeline, PipelineParam, Task
from greenpipe.results import PlanItem, RunResult, StepResult
from greenpipe.run_log import RunLog
from greenpipe.step import artifact_class
from greenpipe.store import Store


class Display(Protocol):
    def step_started(self, name: str, index: int, total: int) -> None: ...

    def step_finished(self, result: StepResult, index: int, total: int) -> None: ...


@dataclass
class _Resolved:
    """A task's inputs and params, ready for a cache key (or why not)."""

    params: dict[str, Any]
    inputs: dict[str, tuple[str, str, str]]  # name -> (digest, path, source)
    pending: str | None = None  # an upstream that has not produced its outputs yet
    blocked: str | None = None  # an upstream that failed or was skipped
    parts: KeyParts | None = None


class Runner:
    """Plans and runs one pipeline against one store."""

    def __init__(
        self,
        pipeline: Pipeline,
        params: dict[str, Any] | None = None,
        *,
        store: Store | None = None,
        region: str | None = None,
        energy: str = "formula",
        force: list[str] | tuple[str, ...] = (),
        params_from_text: bool = False,
        display: Display | None = None,
        rehash: bool = False,
    ):
        self.pipeline = pipeline
        self.store = store or Store()
        self.values = pipeline.resolve_params(params, from_text=params_from_text)
        self.graph: Graph = pipeline.build()
        self.forced = self.graph.downstream_of(list(force)) if force else set()
        self.intensity: GridIntensity = grid_intensity(region)
        self.energy = energy
        energy_method(energy) if energy != "formula" else None  # fail early on an unknown method
        self.display = display
        self.rehash = rehash  # re-read every byte of a cache hit's outputs instead of trusting an unchanged stat
        self.log = RunLog(self.store, pipeline.name, self.intensity, energy)
        for param in pipeline.params:
            if param.is_artifact:
                path = self.values[param.name]
                if not os.path.exists(path):
                    raise InputMissing(
                        f"input {param.name}={path!r} does not exist: pass an existing file or "
                        f"folder with --param {param.name}=PATH"
                    )
        self._results: dict[str, StepResult] = {}

    # -- planning -----------------------------------------------------------------------------------------------

    def plan(self) -> list[PlanItem]:
        """What `run` would do, and why, without running anything or writing to the store."""
        self.preflight()
        items: list[PlanItem] = []
        will_run: set[str] = set()
        self._planned_outputs: dict[str, dict[str, str]] = {}  # task -> output digests of its cache hit
        for task in self.graph.tasks:
            if task.conditions:
                gate = ", ".join(c.describe() for c in task.conditions)
                if any(c.ref.task.name in will_run for c in task.conditions):
                    items.append(PlanItem(task.name, "run", f"if {gate} (decided at run time)"))
                    will_run.add(task.name)
                    continue
            resolved = self._resolve(task, planning=True, will_run=will_run)
            if task.name in self.forced:
                action, reason = "run", "forced"
            elif resolved.pending:
                action, reason = "run", resolved.pending
            elif not task.step.spec.cache.enabled:
                action, reason = "run", "cache disabled for this step"
            else:
                assert resolved.parts is not None
                found = lookup(self.store, resolved.parts.key, task.step.spec.cache, rehash=self.rehash)
                if found.hit:
                    action, reason = "cached", f"cached from execution {found.hit.exec_id}"
                    self._planned_outputs[task.name] = found.hit.outputs
                else:
                    action, reason = "run", found.reason or self._miss_reason(task, resolved.parts)
            if task.conditions and action == "cached":
                action, reason = self._condition_plan(task, reason)
            if action == "run":
                will_run.add(task.name)
            items.append(PlanItem(task.name, action, reason, task.step.fingerprint().untracked, task.step.spec.varies))
        return items

    def _condition_plan(self, task: Task, reason: str) -> tuple[str, str]:
        for cond in task.conditions:
            prev = previous_execution(self.store, self.pipeline.name, cond.ref.task.name, cond.ref.task.step.spec.ref)
            if prev is not None:
                value = json.loads(prev["vals"] or "{}").get(cond.ref.name)
                if not cond.holds(value):
                    return "skip", f"condition {cond.describe()} is false"
        return "cached", reason

    def _miss_reason(self, task: Task, parts: KeyParts) -> str:
        return explain_miss(previous_execution(self.store, self.pipeline.name, task.name, task.step.spec.ref), parts)

    # -- running ------------------------------------------------------------------------------------------------

    def preflight(self) -> None:
        """Everything that can fail before a step runs fails here, with nothing recorded."""
        if self.pipeline.requires is not None:
            self.pipeline.requires(self.store, self.values)
        for task in self.graph.tasks:
            task.step.check_params(self._task_params(task))

    def run(self) -> RunResult:
        self.preflight()
        self.store.create()
        run_id = self.log.open_run(self.values)
        total = len(self.graph.tasks)
        status = "succeeded"
        try:
            for index, task in enumerate(self.graph.tasks, 1):
                if self.display:
                    self.display.step_started(task.name, index, total)
                result = self._execute(run_id, task)
                self._results[task.name] = result
                if result.status == "failed":
                    status = "failed"
                if self.display:
                    self.display.step_finished(result, index, total)
        except BaseException:
            status = "interrupted"
            raise
        finally:
            self.log.close_run(run_id, status)
        return RunResult(
            run_id,
            self.pipeline.name,
            status,
            list(self._results.values()),
            self.intensity.key,
            self.intensity.g_per_kwh,
            f"{self.intensity.source} ({self.intensity.year})",
        )

    def _execute(self, run_id: str, task: Task) -> StepResult:
        for cond in task.conditions:  # a gated step skipped by its own condition is credited, even mid-block
            gate = self._results[cond.ref.task.name]
            if gate.status in ("failed", "skipped"):
                return self._record_skip(run_id, task, f"upstream '{gate.name}' {gate.status}")
            if not cond.holds(gate.values.get(cond.ref.name)):
                return self._record_skip(run_id, task, f"condition {cond.describe()} is false", credit=True)
        resolved = self._resolve(task)
        if resolved.blocked:
            return self._record_skip(run_id, task, resolved.blocked)
        assert resolved.parts is not None
        spec = task.step.spec
        forced = task.name in self.forced
        if not forced and spec.cache.enabled:
            found = lookup(self.store, resolved.parts.key, spec.cache, rehash=self.rehash)
            if found.hit:
                return self._record_hit(run_id, task, resolved, found.hit)
            reason = found.reason or self._miss_reason(task, resolved.parts)
        else:
            reason = "forced" if forced else "cache disabled for this step"
        lock_path = self.store.home / "locks" / f"{resolved.parts.key[3:35]}.lock"
        with open(lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent run computing the same key finishes first
            if not forced and spec.cache.enabled:
                found = lookup(self.store, resolved.parts.key, spec.cache, rehash=self.rehash)
                if found.hit:
                    return self._record_hit(run_id, task, resolved, found.hit)
            return self._run_step(run_id, task, resolved, reason)

    def _task_params(self, task: Task) -> dict[str, Any]:
        """The task's params: constants, pipeline params bound to this run's values, and defaults."""
        params = {}
        for name, value in task.params.items():
            if isinstance(value, PipelineParam):
                value = coerce(f"{task.name}.{name}", task.step.spec.param(name).type, self.values[value.name])
            params[name] = value
        return task.step.spec.with_defaults(params)

    def _resolve(self, task: Task, *, planning: bool = False, will_run: set[str] | None = None) -> _Resolved:
        params = self._task_params(task)
        inputs: dict[str, tuple[str, str, str]] = {}
        for name, ref in task.inputs.items():
            if isinstance(ref, PipelineParam):
                path = os.path.abspath(self.values[ref.name])
                inputs[name] = (self.store.digest_of(path), path, f"file:{path}")
                continue
            assert isinstance(ref, OutputRef)
            if planning:
                assert will_run is not None
                if ref.task.name in will_run:
                    return _Resolved(
                        params, inputs, pending=f"input '{name}' will change: upstream '{ref.task.name}' runs"
                    )
                # tasks are planned in order, so an upstream that will not run has its hit recorded already
                digest = self._planned_outputs.get(ref.task.name, {}).get(ref.name)
                if digest is None:
                    return _Resolved(
                        params,
                        inputs,
                        pending=f"input '{name}' unknown: upstream '{ref.task.name}' has no cached result",
                    )
                inputs[name] = (digest, str(self.store.object_path(digest)), "")
                continue
            upstream = self._results[ref.task.name]
            if upstream.status in ("failed", "skipped"):
                return _Resolved(params, inputs, blocked=f"upstream '{ref.task.name}' {upstream.status}")
            digest = upstream.outputs[ref.name]
            inputs[name] = (digest, str(self.store.object_path(digest)), f"exec:{upstream.exec_id}")
        parts = KeyParts(
            _fingerprint_with_code_refs(task, params), __version__, params, {k: v[0] for k, v in inputs.items()}
        )
        return _Resolved(params, inputs, parts=parts)

    def _record_skip(self, run_id: str, task: Task, reason: str, credit: bool = False) -> StepResult:
        result = StepResult(task.name, "skipped", reason, exec_id=secrets.token_hex(8))
        credits = []
        if credit:
            # what this same task last measured when it ran; else the same step anywhere
            prev = self.store.latest_execution_of_step(
                task.step.spec.ref, ("ran",), prefer=(self.pipeline.name, task.name)
            )
            if prev is not None and prev["energy_kwh"] > 0:
                credits.append(
                    (
                        "gated_skip",
                        float(prev["energy_kwh"]),
                        f"exec:{prev['exec_id']}",
                        "a when-gated step skipped; credited what its last run measured",
                    )
                )
        self.log.record(run_id, task, result, None, {}, credits=credits)
        return result

    def _record_hit(self, run_id: str, task: Task, resolved: _Resolved, hit: Any) -> StepResult:
        result = StepResult(
            task.name,
            "cached",
            f"cached from execution {hit.exec_id}",
            exec_id=secrets.token_hex(8),
            outputs=dict(hit.outputs),
            values=dict(hit.values),
        )
        credits = [("cache", hit.energy_kwh, f"exec:{hit.exec_id}", "cache hit: what the original run measured")]
        self.store.touch_cache(hit.exec_id)
        self.log.record(run_id, task, result, resolved.parts, resolved.inputs, credits=credits)
        return result

    def _run_step(self, run_id: str, task: Task, resolved: _Resolved, reason: str) -> StepResult:
        spec = task.step.spec
        exec_id = secrets.token_hex(8)
        result = StepResult(task.name, "running", reason, exec_id=exec_id)
        self.log.record(run_id, task, result, resolved.parts, resolved.inputs, started_only=True)
        tmp = self.store.tmp_dir(exec_id)
        inputs: dict[str, Artifact | None] = {}
        for name, (digest, path, _source) in resolved.inputs.items():
            kind = next(i.kind for i in spec.inputs if i.name == name)
            inputs[name] = artifact_class(kind)(path, digest)
        outputs = {out.name: artifact_class(out.kind)(tmp / out.name) for out in spec.outputs}
        ctx = StepContext(home=self.store.home, run_id=run_id, exec_id=exec_id, task=task.name)
        if hasattr(self.display, "step_progress"):
            ctx.display = self.display  # a step's log and progress lines go through the live display
        try:
            execution = execute(task.step, resolved.params, inputs, outputs, ctx, self.energy)
            stored = {
                out.name: self.store.put(Path(outputs[out.name].path), out.kind, execution.outputs[out.name])[0]
                for out in spec.outputs
            }
        except Exception as exc:
            result.status = "failed"
            result.error = f"{type(exc).__name__}: {exc}"
            result.reason = reason
            self.log.fail(exec_id, result.error + "\n" + traceback.format_exc())
            remove_object(tmp)
            return result
        remove_object(tmp)
        usage = execution.usage
        result.status = "ran"
        result.wall_s, result.cpu_s, result.peak_mb = usage.wall_s, usage.cpu_s, usage.peak_mb
        result.energy_wh = usage.energy_kwh * 1000
        result.co2e_g = co2e_g(usage.energy_kwh, self.intensity)
        result.outputs, result.values = stored, execution.values
        credits = [(c.kind, c.energy_kwh, c.traced_to, c.note) for c in execution.credits]
        assert resolved.parts is not None
        self.log.finish(task, result, usage, resolved.parts, credits)
        return result


def _fingerprint_with_code_refs(task: Task, params: dict[str, Any]) -> Fingerprint:
    """The step's own fingerprint plus that of the code its CodeRef params name."""
    fingerprint = task.step.fingerprint()
    for spec in task.step.spec.params:
        value = params.get(spec.name)
        if not spec.code_ref or value is None:
            continue
        for ref in value if isinstance(value, list) else [value]:
            if isinstance(ref, str) and ":" in ref:
                fingerprint = fingerprint.merged(code_ref_fingerprint(ref))
    return fingerprint

"""What a greenpipe KFP component does inside its container: find the step, call it, hand its results to KFP.

The generated component body is two lines that call `run_step`; everything else lives here, in the image, so
the step body never imports kfp and this module never imports kfp either (KFP's artifacts are duck-typed:
`.path`, `.metadata`, and `.log_metric` on Metrics).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from greenpipe.artifacts import Artifact, Metrics
from greenpipe.backends.kfp_component import json_encoded
from greenpipe.context import StepContext
from greenpipe.digest import digest_path
from greenpipe.executor import execute
from greenpipe.params import coerce
from greenpipe.refs import resolve_ref
from greenpipe.shared_state import step_session
from greenpipe.step import Step, artifact_class
from greenpipe.store import default_home


def load_step(ref: str) -> Step:
    """The step object named by `module:qualname` (a StepSpec.ref)."""
    obj = resolve_ref(ref, "step")
    if not isinstance(obj, Step):
        raise TypeError(f"{ref} is {type(obj).__name__}, not a greenpipe step")
    return obj


def run_step(ref: str, arguments: dict[str, Any]) -> tuple[Any, ...] | None:
    """Call the step `ref` with KFP's arguments; return its values as a tuple in declared order (or None).

    Input artifacts become greenpipe artifacts on the same path, with their content digest; outputs are
    checked to exist after the call; metrics are also logged to KFP's Metrics metadata (the JSON file at the
    path is written by greenpipe's Metrics.log_metric). Every other output's metadata records its digest and
    the measured wall time, CPU time, peak memory and formula energy of this execution.
    """
    from greenpipe.backends.code_fetch import check_code, prepare_code
    from greenpipe.display import quiet_third_party_logs

    quiet_third_party_logs()  # kfp's executor set the root logger to INFO: keep third-party INFO out of pod logs
    manifest = prepare_code()  # the user's code archive, when the task names one (GREENPIPE_CODE_URI)
    step = load_step(ref)
    for warning in check_code(step, manifest):
        print(f"greenpipe: warning: {warning}", flush=True)
    spec = step.spec
    kwargs: dict[str, Any] = {}
    for param in spec.params:
        if param.name in arguments:
            value = arguments[param.name]
            if json_encoded(param.type) and isinstance(value, str):
                value = json.loads(value)
            kwargs[param.name] = coerce(f"{spec.name}.{param.name}", param.type, value)
    inputs: dict[str, Any] = {}
    for spec_in in spec.inputs:
        given = arguments.get(spec_in.name)
        if given is None:
            if spec_in.optional:
                inputs[spec_in.name] = None
            continue
        inputs[spec_in.name] = artifact_class(spec_in.kind)(
            given.path, digest_path(given.path), metadata=dict(given.metadata or {})
        )
    outputs: dict[str, Artifact] = {}
    for spec_out in spec.outputs:
        path = arguments[spec_out.name].path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        outputs[spec_out.name] = artifact_class(spec_out.kind)(path)

    ctx = StepContext(home=default_home(), task=spec.name)
    with step_session(spec.name) as shared:  # state that outlives the run: at GREENPIPE_SHARED
        execution = execute(step, kwargs, inputs, outputs, ctx, os.environ.get("GREENPIPE_ENERGY", "formula"))
        by_digest = {a.digest: a.path for a in inputs.values() if a is not None and a.digest}
        by_digest.update({digest: outputs[name].path for name, digest in execution.outputs.items()})
        shared.finish(by_digest)
    ledger = execution.ledger()
    for name, artifact in outputs.items():
        target = arguments[name]
        if isinstance(artifact, Metrics):  # KFP shows a Metrics artifact's metadata as its metrics: only those
            for metric, value in sorted(artifact.values().items()):
                target.log_metric(metric, value)
            continue
        target.metadata["greenpipe_digest"] = execution.outputs[name]
        target.metadata["greenpipe_step"] = spec.ref
        target.metadata["greenpipe_usage"] = ledger
    values = execution.values
    return tuple(values.values()) if values else None

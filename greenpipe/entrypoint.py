"""The container entry point: run one step from files on disk, as KFP and SageMaker jobs call it.

    python -m greenpipe.run COMPONENT [--param name=value]... [--input name=path]... [--output name=path]...
                            [--values-out path] [--sagemaker[=processing|training]]

COMPONENT is a step reference `module:qualname` (greenpipe.pipelines.rainfall:fit_classifier) or a short
component name (`drift_gate` -> greenpipe.components.drift_gate.drift_gate). Params are text, coerced by the
step's declared types. The step's NamedTuple values are written as JSON to --values-out (a SageMaker property
file reads it), and what the execution measured (wall and CPU seconds, peak memory, formula energy, credits,
output digests) to `ledger.json` next to it.

With --sagemaker (or SM_* variables in the environment), unnamed inputs and outputs follow SageMaker's /opt/ml
layout under GREENPIPE_SM_ROOT (default `/`):
  processing: inputs  /opt/ml/processing/input/<name>/   outputs /opt/ml/processing/output/<name>/<name>
              values  /opt/ml/processing/output/greenpipe/values.json
  training:   inputs  /opt/ml/input/data/<name>/          outputs /opt/ml/model/<name> (in model.tar.gz)
              values  /opt/ml/output/data/values.json     params  /opt/ml/input/config/hyperparameters.json
              (a tuning job's tuned values, not params of the step, go into its `tuned_hyperparameters: dict`)
An input folder that SageMaker filled with one entry stands for that entry; `--archive-member name=member`
unpacks an upstream training job's model.tar.gz and takes `member` from it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tarfile
import tempfile
import traceback
from pathlib import Path
from typing import Any

from greenpipe import __version__
from greenpipe.artifacts import write_json_atomic
from greenpipe.container import (
    LEDGER_FILE,
    METRIC_LINE,
    RESERVED_HYPERPARAMETER_PREFIXES,
    TUNED_PARAM,
    Layout,
    detect_mode,
)
from greenpipe.errors import GreenpipeError, ParamError
from greenpipe.params import name_value_pairs
from greenpipe.step import Step, artifact_class


def resolve_step(component: str) -> Step:
    """`module:qualname` or a component name -> the Step object."""
    from greenpipe.refs import resolve_ref

    qualified = component if ":" in component else f"greenpipe.components.{component}:{component}"
    obj = resolve_ref(qualified, "component")
    if isinstance(obj, Step):
        return obj
    raise GreenpipeError(
        f"component {component!r} is not a @step: pass module:function (e.g. "
        "greenpipe.pipelines.rainfall:fit_classifier) or a component name (e.g. drift_gate)"
    )


def _input_path(name: str, given: str | None, layout: Layout, member: str | None, scratch: Path) -> Path:
    if given is not None:
        path = Path(given)
    else:
        default = layout.input(name)
        if default is None:
            raise GreenpipeError(f"input {name} has no path: pass --input {name}=PATH")
        path = default
    if not path.exists():
        raise GreenpipeError(
            f"input {name}: {path} does not exist; pass --input {name}=PATH to an existing file or folder"
        )
    if path.is_dir() and given is None:
        entries = sorted(path.iterdir())
        if len(entries) == 1:  # SageMaker downloads an S3 prefix into the folder: its one entry is the artifact
            path = entries[0]
    if member is not None:
        archive = path if path.is_file() else path / "model.tar.gz"
        target = scratch / name
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        path = target / member
        if not path.exists():
            raise GreenpipeError(f"input {name}: archive {archive} has no member {member!r}")
    return path


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m greenpipe.run", description=__doc__.splitlines()[0])
    parser.add_argument("component")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--output", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--values-out", default=None, metavar="PATH")
    parser.add_argument("--archive-member", action="append", default=[], metavar="NAME=MEMBER")
    parser.add_argument("--expect-digest", action="append", default=[], metavar="NAME=DIGEST")
    parser.add_argument(
        "--sagemaker", nargs="?", const="auto", default=None, choices=["auto", "processing", "training"]
    )
    args = parser.parse_args(argv)
    from greenpipe.display import quiet_third_party_logs

    quiet_third_party_logs()  # a job's log shows the step, not great_expectations' INFO lines
    layout = Layout(detect_mode(args.sagemaker))
    scratch = Path(tempfile.mkdtemp(prefix="greenpipe-run-"))
    try:
        execute(args, layout, scratch)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        failure = layout.failure_file()
        if failure is not None:  # SageMaker shows this file as the job's FailureReason
            failure.parent.mkdir(parents=True, exist_ok=True)
            failure.write_text(message[:1000], encoding="utf-8")
        if isinstance(exc, GreenpipeError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        traceback.print_exc()
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def execute(args: argparse.Namespace, layout: Layout, scratch: Path) -> dict[str, Any]:
    """Run the step once; returns what was written to the ledger file."""
    from greenpipe.backends.code_fetch import check_code, prepare_code
    from greenpipe.context import StepContext
    from greenpipe.digest import digest_path
    from greenpipe.executor import execute
    from greenpipe.params import coerce
    from greenpipe.shared_state import step_session
    from greenpipe.store import default_home

    manifest = prepare_code()  # the user's code archive, when the job names one (GREENPIPE_CODE_URI)
    step = resolve_step(args.component)
    for warning in check_code(step, manifest):
        print(f"greenpipe: warning: {warning}", file=sys.stderr)
    spec = step.spec
    texts = {k: v for k, v in layout.hyperparameters().items() if not k.startswith(RESERVED_HYPERPARAMETER_PREFIXES)}
    known = {p.name for p in spec.params}
    tuned = {k: texts.pop(k) for k in sorted(texts) if k not in known} if TUNED_PARAM in known else {}
    if tuned:
        texts[TUNED_PARAM] = json.dumps(tuned, sort_keys=True)
    texts.update(name_value_pairs(args.param, "--param"))
    for name in texts:
        if name not in known:
            raise ParamError(f"step {spec.name} has no param {name!r}; its params are: {', '.join(sorted(known))}")
    kwargs: dict[str, Any] = {}
    for pspec in spec.params:
        if pspec.name in texts:
            kwargs[pspec.name] = coerce(pspec.name, pspec.type, texts[pspec.name], from_text=True)
        elif pspec.required:
            raise ParamError(f"step {spec.name} needs param {pspec.name}: pass --param {pspec.name}=...")

    given_inputs = name_value_pairs(args.input, "--input")
    env_members = [m for m in os.environ.get("GREENPIPE_ARCHIVE_MEMBERS", "").split(",") if m]
    members = name_value_pairs(env_members + args.archive_member, "--archive-member")
    expected = {k: v for k, v in name_value_pairs(args.expect_digest, "--expect-digest").items() if v}
    unknown = (set(given_inputs) | set(members)) - {i.name for i in spec.inputs}
    if unknown:
        raise GreenpipeError(
            f"step {spec.name} has no input {sorted(unknown)[0]!r}; its inputs are: "
            f"{', '.join(i.name for i in spec.inputs) or '(none)'}"
        )
    input_digests: dict[str, str] = {}
    inputs: dict[str, Any] = {}
    for ispec in spec.inputs:
        default = layout.input(ispec.name)
        absent = ispec.name not in given_inputs and (default is None or not default.exists())
        if absent and ispec.optional:
            inputs[ispec.name] = None
            continue
        path = _input_path(ispec.name, given_inputs.get(ispec.name), layout, members.get(ispec.name), scratch)
        digest = digest_path(path)
        if ispec.name in expected and expected[ispec.name] != digest:
            raise GreenpipeError(
                f"input {ispec.name}: content digest {digest} differs from the expected "
                f"{expected[ispec.name]}; the data at this path changed since it was staged"
            )
        input_digests[ispec.name] = digest
        inputs[ispec.name] = artifact_class(ispec.kind)(path, digest)

    given_outputs = name_value_pairs(args.output, "--output")
    outputs: dict[str, Any] = {}
    for ospec in spec.outputs:
        out_path = Path(given_outputs[ospec.name]) if ospec.name in given_outputs else layout.output(ospec.name)
        if out_path is None:
            raise GreenpipeError(f"output {ospec.name} has no path: pass --output {ospec.name}=PATH")
        out_path.parent.mkdir(parents=True, exist_ok=True)
        outputs[ospec.name] = artifact_class(ospec.kind)(out_path)

    ctx = StepContext(home=default_home(), task=spec.name)
    with step_session(spec.name) as shared:  # state that outlives the run: at GREENPIPE_SHARED
        execution = execute(step, kwargs, inputs, outputs, ctx, os.environ.get("GREENPIPE_ENERGY", "formula"))
        by_digest = {digest: inputs[name].path for name, digest in input_digests.items()}
        by_digest.update({digest: outputs[name].path for name, digest in execution.outputs.items()})
        shared.finish(by_digest)
    values = execution.values
    for artifact in outputs.values():
        if artifact.kind == "metrics":
            with open(artifact.path, encoding="utf-8") as handle:
                for metric, value in sorted(json.load(handle).items()):
                    print(f"{METRIC_LINE} {metric}={value}", flush=True)
    ledger = {
        "step": spec.ref,
        "greenpipe_version": __version__,
        "fingerprint": os.environ.get("GREENPIPE_FINGERPRINT") or step.fingerprint().digest,
        "inputs": input_digests,
        **execution.ledger(),
    }
    values_path = Path(args.values_out) if args.values_out else layout.values()
    if values_path is not None:
        write_json_atomic(values_path, values)
        write_json_atomic(values_path.parent / LEDGER_FILE, ledger)
    return ledger


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()

"""Run one step once: the one executor behind the local runner, the container entry point and the KFP runtime.

A runtime maps its own layout to paths (a store's tmp folder, /opt/ml, KFP's artifact paths), builds the
step's arguments, and calls `execute`. What comes back is the same everywhere: the step's declared values,
its outputs' content digests, what the execution measured, and the energy it credits as avoided, with one
JSON shape for the ledger (`Execution.ledger`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from greenpipe.artifacts import Artifact
from greenpipe.context import StepContext, activate
from greenpipe.digest import digest_path
from greenpipe.errors import GreenpipeError
from greenpipe.ledger import Credit, Usage, UsageMeter, energy_method
from greenpipe.step import Step


class OutputMissing(GreenpipeError):
    """A step returned without writing one of its declared outputs."""


@dataclass
class Execution:
    """What one execution of a step produced and measured."""

    values: dict[str, Any]
    outputs: dict[str, str]  # output name -> content digest
    usage: Usage
    credits: list[Credit] = field(default_factory=list)

    def ledger(self) -> dict[str, Any]:
        """The ledger record every runtime writes (the local store's columns, ledger.json, KFP metadata)."""
        return {
            "wall_s": self.usage.wall_s,
            "cpu_s": self.usage.cpu_s,
            "peak_mb": self.usage.peak_mb,
            "energy_kwh": self.usage.energy_kwh,
            "energy_method": self.usage.method,
            "credits": [asdict(c) for c in self.credits],
            "outputs": dict(self.outputs),
        }


def execute(
    step: Step,
    params: dict[str, Any],
    inputs: dict[str, Artifact | None],
    outputs: dict[str, Artifact],
    ctx: StepContext,
    energy: str = "formula",
) -> Execution:
    """Call the step with coerced params, input artifacts and output artifacts (at the paths the runtime chose),
    held to the cores it declared and measured; check what it returned and that it wrote every output.

    Raises whatever the step raised; OutputMissing or SpecError when its results do not match its declaration.
    """
    for artifact in outputs.values():
        Path(artifact.path).parent.mkdir(parents=True, exist_ok=True)
    method = energy_method(energy)
    usage = Usage(method=method.name)
    method.start()
    with UsageMeter() as meter, activate(ctx), cpu_threads(step.spec.resources.cpu):
        returned = step.fn(**params, **inputs, **outputs)
    usage.wall_s, usage.cpu_s, usage.peak_mb = meter.wall_s, meter.cpu_s, meter.peak_mb
    usage.energy_kwh = method.stop(usage)
    values = step.returned_values(returned, ctx.task or step.name)
    digests: dict[str, str] = {}
    for name, artifact in outputs.items():
        if not os.path.exists(artifact.path):
            raise OutputMissing(
                f"step {ctx.task or step.name} did not write its output '{name}': write a file or folder at "
                f"{name}.path ({artifact.path})"
            )
        digests[name] = digest_path(artifact.path)
    return Execution(values, digests, usage, list(ctx.credits.credits))


@contextlib.contextmanager
def cpu_threads(cpu: float) -> Iterator[None]:
    """Hold a step to the cores it declared (Resources.cpu): BLAS/OpenMP pools in this process, and
    OMP_NUM_THREADS for the processes it starts. Oversubscribed pools on a busy machine cost many times the CPU."""
    threads = str(max(1, int(cpu)))
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = threads
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # scikit-learn brings threadpoolctl; without it only child processes are limited
            yield
            return
        with threadpool_limits(limits=int(threads)):
            yield
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved

"""Where a KFP task runs: CPU/memory/GPU limits and, for spot-allowed steps, EKS or GKE spot nodes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from greenpipe.errors import CompileError
from greenpipe.step import Step


@dataclass(frozen=True)
class SpotPlacement:
    """Where a spot-allowed step's pod goes: node labels to select and taints to tolerate."""

    node_selector: tuple[tuple[str, str], ...]
    tolerations: tuple[tuple[str, str, str], ...]  # (key, value, effect), operator Equal


SPOT_PLACEMENTS = {
    # EKS managed node groups label spot nodes eks.amazonaws.com/capacityType=SPOT; clusters that also taint
    # them usually use the same key, and tolerating a taint that is absent changes nothing.
    "eks": SpotPlacement(
        (("eks.amazonaws.com/capacityType", "SPOT"),), (("eks.amazonaws.com/capacityType", "SPOT", "NoSchedule"),)
    ),
    # GKE labels spot nodes cloud.google.com/gke-spot=true and may taint them with the same key.
    "gke": SpotPlacement(
        (("cloud.google.com/gke-spot", "true"),), (("cloud.google.com/gke-spot", "true", "NoSchedule"),)
    ),
}


def spot_placement(spot: str | SpotPlacement | None) -> SpotPlacement:
    """A named placement ("eks", "gke"; default GREENPIPE_KFP_SPOT, else "eks") or your own."""
    if isinstance(spot, SpotPlacement):
        return spot
    key = spot or os.environ.get("GREENPIPE_KFP_SPOT") or "eks"
    if key not in SPOT_PLACEMENTS:
        raise CompileError(
            f"spot={key!r} is not a known spot placement: use one of {', '.join(SPOT_PLACEMENTS)} "
            "(or set GREENPIPE_KFP_SPOT), or pass a SpotPlacement"
        )
    return SPOT_PLACEMENTS[key]


def apply_resources(step: Step, kfp_task: Any, accelerator_type: str, spot: SpotPlacement) -> None:
    """CPU and memory limits, GPUs, and spot placement for a spot-allowed step."""
    resources = step.spec.resources
    kfp_task.set_cpu_limit(_cpu_quantity(resources.cpu))
    kfp_task.set_memory_limit(_memory_quantity(resources.memory_gb))
    if resources.gpu:
        kfp_task.set_accelerator_type(accelerator_type).set_accelerator_limit(resources.gpu)
    if resources.spot:
        from kfp import kubernetes

        for key, value in spot.node_selector:
            kubernetes.add_node_selector(kfp_task, label_key=key, label_value=value)
        for key, value, effect in spot.tolerations:
            kubernetes.add_toleration(kfp_task, key=key, operator="Equal", value=value, effect=effect)


def _cpu_quantity(cpu: float) -> str:
    return str(int(cpu)) if float(cpu).is_integer() else f"{round(cpu * 1000)}m"


def _memory_quantity(memory_gb: float) -> str:
    return f"{int(memory_gb)}G" if float(memory_gb).is_integer() else f"{round(memory_gb * 1000)}M"

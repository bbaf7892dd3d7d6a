"""A KServe InferenceService (serving.kserve.io/v1beta1) for an online choice, for KFP users.

Scale-to-zero (minReplicas 0, Knative's "Serverless" deployment mode) wherever the chosen mode may sit idle
(serverless, asynchronous) or the profile has hours without traffic; otherwise one replica stays up. ONNX forms
use the v2 protocol, as KServe's ONNX runtime requires; pickled forms use the sklearn format.
"""

from __future__ import annotations

import math
from typing import Any

from greenpipe.components.serve.decision import Option
from greenpipe.components.serve.traffic import Traffic


def inference_service(
    *, name: str, form: str, storage_uri: str, option: Option, traffic: Traffic, memory_mb: float
) -> dict[str, Any] | None:
    """The manifest as a dict (kubectl accepts it as JSON), or None for a batch transform (no endpoint)."""
    if option.mode == "batch_transform":
        return None
    idle_hours = traffic.kind == "batch" or any(r == 0 for r in traffic.requests_per_hour)
    scale_to_zero = option.mode in ("serverless", "async") or idle_hours
    onnx = form.startswith(("onnx", "trees_", "distilled"))
    model: dict[str, Any] = {
        "modelFormat": {"name": "onnx" if onnx else "sklearn"},
        "storageUri": storage_uri,
        "resources": {
            "requests": {"cpu": "1", "memory": f"{math.ceil(2 * memory_mb + 256)}Mi"},
            "limits": {"cpu": "1", "memory": f"{math.ceil(4 * memory_mb + 512)}Mi"},
        },
    }
    if onnx:
        model["protocolVersion"] = "v2"
    max_replicas = max(1, int(option.instances or option.config.get("max_concurrency", 1)))
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "annotations": {"serving.kserve.io/deploymentMode": "Serverless"}},
        "spec": {
            "predictor": {
                "minReplicas": 0 if scale_to_zero else 1,
                "maxReplicas": max_replicas,
                "scaleMetric": "concurrency",
                "scaleTarget": 1,
                "model": model,
            }
        },
    }

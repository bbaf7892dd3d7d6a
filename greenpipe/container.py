"""The container protocol: where a step's inputs, outputs, values and ledger live inside a SageMaker job (the
/opt/ml layout), and the names the compiled definitions and the entry point agree on. Backends and components
import these from here, never from the entry point script."""

from __future__ import annotations

import json
import os
from pathlib import Path

VALUES_FILE = "values.json"
LEDGER_FILE = "ledger.json"
VALUES_OUTPUT = "greenpipe"  # the processing output that holds values.json and ledger.json
METRIC_LINE = "greenpipe-metric"  # `greenpipe-metric name=value` lines, read by SageMaker MetricDefinitions
RESERVED_HYPERPARAMETER_PREFIXES = ("greenpipe_", "sagemaker_", "_")
# A SageMaker tuning job's trial step declares this dict param: the hyperparameters the tuning job sets that are
# not params of the step (the tuned values, as text) are gathered into it (see greenpipe.backends.sagemaker_tuning).
TUNED_PARAM = "tuned_hyperparameters"


def sagemaker_root() -> Path:
    return Path(os.environ.get("GREENPIPE_SM_ROOT", "/"))


class Layout:
    """Where inputs, outputs and values live when the command line does not say."""

    def __init__(self, mode: str | None):
        self.mode = mode
        root = sagemaker_root() / "opt" / "ml"
        self.root = root

    def input(self, name: str) -> Path | None:
        if self.mode == "processing":
            return self.root / "processing" / "input" / name
        if self.mode == "training":
            return self.root / "input" / "data" / name
        return None

    def output(self, name: str) -> Path | None:
        if self.mode == "processing":
            return self.root / "processing" / "output" / name / name
        if self.mode == "training":
            return self.root / "model" / name
        return None

    def values(self) -> Path | None:
        if self.mode == "processing":
            return self.root / "processing" / "output" / VALUES_OUTPUT / VALUES_FILE
        if self.mode == "training":
            return self.root / "output" / "data" / VALUES_FILE
        return None

    def hyperparameters(self) -> dict[str, str]:
        path = self.root / "input" / "config" / "hyperparameters.json"
        if self.mode != "training" or not path.is_file():
            return {}
        with open(path, encoding="utf-8") as handle:
            return {str(k): str(v) for k, v in json.load(handle).items()}

    def failure_file(self) -> Path | None:
        return self.root / "output" / "failure" if self.mode else None


def detect_mode(flag: str | None) -> str | None:
    """None (plain paths), 'processing' or 'training'."""
    if flag in ("processing", "training"):
        return flag
    if flag is None and not any(k.startswith("SM_") for k in os.environ):
        return None
    config = sagemaker_root() / "opt" / "ml" / "input" / "config" / "hyperparameters.json"
    return "training" if config.is_file() or os.environ.get("SM_TRAINING_ENV") else "processing"

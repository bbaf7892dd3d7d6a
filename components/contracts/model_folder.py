"""The model folder: how a trained model travels between components.

A model folder holds `model.pkl`, the pickled fitted estimator (anything with predict, and predict_proba for a
classifier), and `model.json`, its description: the feature columns in the order the model reads them, the label
column, the estimator's name and constructor params, and whatever else its writer records (spot_train's epochs
and stop rule, compress's form). spot_train, bayes_tune and compress write one; compress, serve, register,
drift_gate and the reference pipelines read one. Other files may sit beside the two (compress's model.onnx).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenpipe.artifacts import write_bytes_atomic, write_json_atomic
from greenpipe.errors import GreenpipeError

MODEL_FILE = "model.pkl"
DESCRIPTION_FILE = "model.json"
_NAMED = ("features", "target", "estimator", "params")


class NotAModelFolder(GreenpipeError):
    """A model input that is not a model folder."""


@dataclass(frozen=True)
class ModelDescription:
    """What model.json says: the columns the model reads, its label, what it is, and its writer's own facts."""

    features: list[str] = field(default_factory=list)  # empty: every column but the target (older writers)
    target: str = ""
    estimator: str = ""  # a family name (bayes_tune) or a class name (spot_train); see contracts.estimators
    params: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # every other key, kept as its writer wrote it

    @property
    def form(self) -> str:
        """The compressed form compress chose, or 'original' for a model as trained."""
        return str(self.details.get("form", "original"))

    def feature_columns(self, columns: list[str]) -> list[str]:
        """The features the model reads; every column but the target when model.json names none."""
        return list(self.features) or [c for c in columns if c != self.target]

    def to_json(self) -> dict[str, Any]:
        named = {"features": list(self.features), "target": self.target, "estimator": self.estimator}
        return {**self.details, **named, "params": dict(self.params)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelDescription:
        return cls(
            features=[str(c) for c in data.get("features") or []],
            target=str(data.get("target") or ""),
            estimator=str(data.get("estimator") or ""),
            params=dict(data.get("params") or {}),
            details={k: v for k, v in data.items() if k not in _NAMED},
        )


@dataclass(frozen=True)
class ModelFolder:
    """A folder known to hold model.pkl and model.json."""

    path: Path

    @classmethod
    def open(cls, path: str | os.PathLike[str], field: str = "model") -> ModelFolder:
        """The model folder at `path`; a clear error naming `field` when it is not one."""
        folder = Path(path)
        missing = [name for name in (MODEL_FILE, DESCRIPTION_FILE) if not (folder / name).is_file()]
        if missing:
            raise NotAModelFolder(
                f"{field} input {folder} is not a model folder: it lacks {' and '.join(missing)}. Pass the model "
                f"output of spot_train, bayes_tune or compress, or a folder with {MODEL_FILE} (the pickled "
                f"estimator) and {DESCRIPTION_FILE} (its features and target)"
            )
        return cls(folder)

    @property
    def model_file(self) -> Path:
        return self.path / MODEL_FILE

    def description(self) -> ModelDescription:
        import json

        return ModelDescription.from_json(json.loads((self.path / DESCRIPTION_FILE).read_text(encoding="utf-8")))

    def load(self) -> Any:
        """Unpickle the model. Only for an artifact whose digest was verified (the runner does for step inputs)."""
        with open(self.model_file, "rb") as handle:
            return pickle.load(handle)


def write_model_folder(
    folder: str | os.PathLike[str],
    pickled: bytes,
    description: ModelDescription,
    extra_files: Mapping[str, bytes] | None = None,
) -> ModelFolder:
    """Write a model folder: `pickled` (the estimator's pickle bytes) as model.pkl, `description` as model.json,
    and any `extra_files` beside them, each atomically."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out / MODEL_FILE, pickled)
    write_json_atomic(out / DESCRIPTION_FILE, description.to_json())
    for name, data in (extra_files or {}).items():
        write_bytes_atomic(out / name, data)
    return ModelFolder(out)


def read_description(path: str | os.PathLike[str]) -> ModelDescription | None:
    """The description of the model at `path` (a folder, or a bare pickle file), or None when it has none."""
    folder = Path(path)
    if not (folder / DESCRIPTION_FILE).is_file():
        return None
    return ModelFolder(folder).description()


def model_file(path: str | os.PathLike[str]) -> Path:
    """The pickle of the model at `path`: a folder's model.pkl, or `path` itself when it is a pickle file."""
    given = Path(path)
    return given / MODEL_FILE if given.is_dir() else given


def load_model(path: str | os.PathLike[str]) -> Any:
    """Unpickle the model at `path` (a model folder or a bare pickle file); only after verifying its digest."""
    with open(model_file(path), "rb") as handle:
        return pickle.load(handle)

"""The forms compress tries for one fitted scikit-learn model. A form that cannot be made is a row with its reason.

Routes, each tried independently:
- `original`: the model as trained (the baseline every other row is compared with);
- `onnx`: skl2onnx's graph, run by onnxruntime;
- `onnx_int8`: the ONNX graph with onnxruntime's dynamic int8 quantisation of its MatMul/Gemm weights;
- `trees_50pct` / `trees_25pct`: a forest (estimators_ list) keeping its first half / quarter of trees, in ONNX
  when the converter is installed (a forest's trees are independent draws, so a prefix is an unbiased smaller
  forest);
- `distilled_tree`: only when the original cannot be converted and training data is given: a depth-8 decision
  tree fitted to the original's predictions on the training rows, in ONNX (a smaller model distilled from it).
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass, field
from typing import Any

DISTILLED_DEPTH = 8


@dataclass
class Candidate:
    """One form of the model: a predictor to measure, the bytes a server would load, or why it failed."""

    name: str
    route: str
    predictor: Any = None
    artifact: bytes = b""
    artifact_kind: str = ""  # "pickle" or "onnx"
    reason: str = ""  # why it could not be made (then predictor is None)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.predictor is not None


def onnx_available() -> str:
    """'' when skl2onnx and onnxruntime import, else why not."""
    try:
        import onnxruntime  # noqa: F401
        import skl2onnx  # noqa: F401
    except ImportError as exc:
        return f"{exc.name or 'skl2onnx/onnxruntime'} is not installed: pip install 'greenpipe[compress]'"
    return ""


def build(estimator: Any, n_features: int, train_x: Any = None, stored: bytes = b"") -> list[Candidate]:
    """Every candidate form of `estimator`, the original first.

    Args:
        stored: the original's model.pkl as stored; its size is the baseline (pickling the loaded object again
            need not give the same bytes in another process).
    """
    original = Candidate("original", "as trained (pickle)", estimator, stored or pickle.dumps(estimator), "pickle")
    out = [original]
    missing = onnx_available()
    onnx_bytes = b""
    if missing:
        out.append(Candidate("onnx", "skl2onnx -> onnxruntime", reason=missing))
        out.append(Candidate("onnx_int8", "onnxruntime dynamic int8", reason=missing))
    else:
        onnx_row = _onnx(estimator, n_features, "onnx", "skl2onnx -> onnxruntime")
        out.append(onnx_row)
        onnx_bytes = onnx_row.artifact if onnx_row.ok else b""
        out.append(_int8(onnx_row, n_features, estimator))
    out += _pruned_forests(estimator, n_features, missing)
    if not onnx_bytes and train_x is not None and not missing:
        out.append(_distilled(estimator, n_features, train_x))
    elif not onnx_bytes and not missing:
        out.append(
            Candidate(
                "distilled_tree",
                f"depth-{DISTILLED_DEPTH} tree fitted to the original's predictions",
                reason="the original does not convert and no training data was given (pass `train`)",
            )
        )
    return out


def _onnx(estimator: Any, n_features: int, name: str, route: str) -> Candidate:
    from greenpipe.components.compress.onnx_model import OnnxModel, to_onnx

    try:
        data = to_onnx(estimator, n_features)
    except Exception as exc:  # any converter failure is a row, never a crash: the reason is kept
        return Candidate(name, route, reason=f"skl2onnx cannot convert {type(estimator).__name__}: {_short(exc)}")
    model = OnnxModel(data, form=name, n_features=n_features, classes=getattr(estimator, "classes_", None))
    try:
        model.session()
    except Exception as exc:  # the graph was made but the runtime refuses it (e.g. an operator it lacks)
        return Candidate(name, route, reason=f"onnxruntime cannot load the converted graph: {_short(exc)}")
    return Candidate(name, route, model, data, "onnx")


def _int8(onnx_row: Candidate, n_features: int, estimator: Any) -> Candidate:
    from greenpipe.components.compress.onnx_model import OnnxModel, quantize_int8

    route = "onnxruntime dynamic int8"
    if not onnx_row.ok:
        return Candidate("onnx_int8", route, reason="no ONNX graph to quantise (see the onnx row)")
    try:
        data = quantize_int8(onnx_row.artifact)
        model = OnnxModel(data, form="onnx_int8", n_features=n_features, classes=getattr(estimator, "classes_", None))
        model.session()
    except Exception as exc:  # nothing quantisable, or the quantised graph does not load: a row with its reason
        return Candidate("onnx_int8", route, reason=f"int8 quantisation does not apply: {_short(exc)}")
    return Candidate("onnx_int8", route, model, data, "onnx")


def _pruned_forests(estimator: Any, n_features: int, missing: str) -> list[Candidate]:
    trees = getattr(estimator, "estimators_", None)
    if not isinstance(trees, list) or len(trees) < 4 or not hasattr(estimator, "n_estimators"):
        return []
    out = []
    for share, name in ((0.5, "trees_50pct"), (0.25, "trees_25pct")):
        keep = max(1, int(len(trees) * share))
        smaller = copy.copy(estimator)
        smaller.estimators_ = trees[:keep]
        smaller.n_estimators = keep
        route = f"first {keep} of {len(trees)} trees"
        if missing:
            out.append(Candidate(name, route + " (pickle)", smaller, pickle.dumps(smaller), "pickle"))
            continue
        row = _onnx(smaller, n_features, name, route + " -> onnx")
        if not row.ok:  # the forest does not convert: still a smaller scikit-learn forest
            row = Candidate(name, route + " (pickle)", smaller, pickle.dumps(smaller), "pickle", notes=[row.reason])
        out.append(row)
    return out


def _distilled(estimator: Any, n_features: int, train_x: Any) -> Candidate:
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    route = f"depth-{DISTILLED_DEPTH} tree fitted to the original's predictions on the training rows -> onnx"
    rows = np.asarray(train_x, dtype=np.float32)
    try:
        teacher = estimator.predict(train_x)
    except Exception as exc:  # the original cannot score its own training rows: say so
        return Candidate("distilled_tree", route, reason=f"the original cannot predict the training rows: {exc}")
    kind = DecisionTreeClassifier if hasattr(estimator, "classes_") else DecisionTreeRegressor
    student = kind(max_depth=DISTILLED_DEPTH, random_state=0).fit(rows, teacher)
    row = _onnx(student, n_features, "distilled_tree", route)
    if not row.ok:
        return Candidate("distilled_tree", route, student, pickle.dumps(student), "pickle", notes=[row.reason])
    return row


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."

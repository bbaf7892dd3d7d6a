"""An ONNX model behind scikit-learn's predict / predict_proba, so every greenpipe step can score it.

It pickles as its ONNX bytes (plus the few attributes sklearn callers read), and opens an onnxruntime session
only when it first predicts: unpickling it needs no onnxruntime, predicting does. Sessions run on one intra-op
thread, so a measured latency is one core's work, comparable with scikit-learn's single-threaded predict.
"""

from __future__ import annotations

from typing import Any


class OnnxModel:
    """An ONNX graph converted from a scikit-learn estimator; `form` names how (e.g. "onnx", "onnx_int8")."""

    def __init__(self, onnx_bytes: bytes, *, form: str, n_features: int, classes: Any = None):
        self.onnx_bytes = bytes(onnx_bytes)
        self.form = form
        self.n_features_in_ = int(n_features)
        if classes is not None:
            self.classes_ = classes
        self._session: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_session"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def is_classifier(self) -> bool:
        return hasattr(self, "classes_")

    def session(self) -> Any:
        if self._session is None:
            try:
                import onnxruntime as ort
            except ImportError as exc:
                from greenpipe.components.compress.errors import CompressError

                raise CompressError(
                    f"this model is in {self.form} form and needs onnxruntime to predict: "
                    "pip install 'greenpipe[compress]'"
                ) from exc
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(self.onnx_bytes, options, providers=["CPUExecutionProvider"])
        return self._session

    def _run(self, X: Any) -> list[Any]:
        import numpy as np

        rows = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
        session = self.session()
        return list(session.run(None, {session.get_inputs()[0].name: rows}))

    def predict(self, X: Any) -> Any:
        import numpy as np

        out = self._run(X)[0]
        return np.asarray(out).ravel() if not self.is_classifier else np.asarray(out)

    def predict_proba(self, X: Any) -> Any:
        if not self.is_classifier:
            raise AttributeError("predict_proba: this ONNX model is a regressor")
        return self._run(X)[1]


def to_onnx(estimator: Any, n_features: int) -> bytes:
    """skl2onnx's conversion of a fitted estimator, with probabilities as a plain tensor (no ZipMap)."""
    import numpy as np
    from skl2onnx import to_onnx as convert

    sample = np.zeros((1, n_features), dtype=np.float32)
    options = {"zipmap": False} if hasattr(estimator, "classes_") else None
    model = convert(estimator, sample, options=options)
    return bytes(model.SerializeToString())


def quantize_int8(onnx_bytes: bytes) -> bytes:
    """onnxruntime's dynamic int8 quantisation of the graph's MatMul/Gemm weights.

    Raises ValueError when the graph has nothing it can quantise (tree ensembles and linear models converted to
    ai.onnx.ml operators only).
    """
    import logging
    import tempfile
    from pathlib import Path

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load_from_string(onnx_bytes)
    if not any(op.domain in ("", "ai.onnx") for op in model.opset_import):
        raise ValueError("the graph uses only ai.onnx.ml operators (no MatMul/Gemm weights to quantise)")
    with tempfile.TemporaryDirectory(prefix="greenpipe-int8-") as tmp:
        source, target = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
        source.write_bytes(onnx_bytes)
        # quantize_dynamic logs a pre-processing hint on the root logger for every call; it is not a problem here
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
        finally:
            logging.disable(previous)
        return target.read_bytes()

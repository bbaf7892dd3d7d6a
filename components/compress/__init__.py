"""compress: smaller or faster forms of a model (ONNX, int8, fewer trees, a distilled tree), measured on the
evaluation data; the cheapest within the metric bar is kept and registered as a new version.

`compress` is the step. `OnnxModel` is the predict/predict_proba wrapper a compressed model.pkl may hold.
"""

from greenpipe.components.compress.compress_step import Compression, compress
from greenpipe.components.compress.onnx_model import OnnxModel

STEPS = [compress]

__all__ = ["STEPS", "Compression", "OnnxModel", "compress"]

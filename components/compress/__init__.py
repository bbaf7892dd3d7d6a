"""compress: smaller or faster forms of a model (ONNX, int8, fewer trees, a distilled tree), measured on the
evaluation data; the cheapest within the metric bar is kept, and `register_compressed` registers it as the next
version of the model.

`OnnxModel` is the predict/predict_proba wrapper a compressed model.pkl may hold.
"""

from greenpipe.components.compress.compress_step import CompressResult, compress
from greenpipe.components.compress.onnx_model import OnnxModel
from greenpipe.components.compress.register_step import RegisterCompressedResult, register_compressed

STEPS = [compress, register_compressed]

__all__ = ["STEPS", "RegisterCompressedResult", "CompressResult", "OnnxModel", "compress", "register_compressed"]

"""greenpipe: sustainable MLOps pipeline steps that cache what was computed and measure what it cost."""

__version__ = "0.1.0"

from greenpipe.artifacts import Artifact, Dataset, Metrics, Model, Output, Report  # noqa: E402
from greenpipe.params import CodeRef  # noqa: E402
from greenpipe.pipeline import pipeline, when  # noqa: E402
from greenpipe.step import CachePolicy, Resources, step  # noqa: E402

__all__ = [
    "Artifact",
    "CachePolicy",
    "CodeRef",
    "Dataset",
    "Metrics",
    "Model",
    "Output",
    "Report",
    "Resources",
    "__version__",
    "pipeline",
    "step",
    "when",
]

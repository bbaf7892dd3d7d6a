"""serve: choose how to serve a model (batch transform, asynchronous, serverless or real-time endpoint) from a
traffic profile and the model's measured latency, with instance-hours and CO2e per month for every alternative;
emit the validated SageMaker requests; batch-score a dataset locally in chunks.
"""

from greenpipe.components.serve.serve_step import ServeResult, serve

STEPS = [serve]

__all__ = ["STEPS", "ServeResult", "serve"]

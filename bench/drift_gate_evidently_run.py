"""Run Evidently's data-drift preset on two Parquet files and print its wall time and peak RSS as JSON.

Runs in its own venv (evidently 0.7.23 needs pandas < 3):
    /work/venv-evidently/bin/python bench/drift_gate_evidently_run.py reference.parquet current.parquet
"""

import json
import resource
import sys
import time

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

reference = pd.read_parquet(sys.argv[1])
current = pd.read_parquet(sys.argv[2])
start = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
result = snapshot.dict()
wall = time.perf_counter() - start
drifted = None
for metric in result.get("metrics", []):
    value = metric.get("value")
    if isinstance(value, dict) and "count" in value and "share" in value:
        drifted = value
        break
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "peak_mb": peak_mb, "drifted_columns": drifted}))

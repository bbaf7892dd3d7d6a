"""Evidently's DataDriftPreset as a retrain trigger on one stream: print the periods it retrains before, as JSON.

Runs in its own venv (evidently 0.7.23 needs pandas < 3), called by bench/drift_gate_anchors.py:
    /work/venv-evidently/bin/python bench/drift_gate_evidently_policy.py stream.parquet spec.json

stream.parquet holds every period's feature rows with a `period` column; spec.json gives {"features",
"categorical", "window", "first"}. Walking the stream as a deployed model would: before period t, the preset
compares period t's features with the serving model's training window (periods [end - window, end)), with its
default column tests and thresholds; dataset drift (the share of drifted columns >= the preset's default 0.5)
retrains, and the new model ends at t.
"""

import json
import sys

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

frame = pd.read_parquet(sys.argv[1])
with open(sys.argv[2], encoding="utf-8") as handle:
    spec = json.load(handle)
features, categorical = spec["features"], spec["categorical"]
definition = DataDefinition(
    numerical_columns=[f for f in features if f not in categorical], categorical_columns=categorical or None
)
for column in categorical:
    frame[column] = frame[column].astype(str)
periods = {p: g[features] for p, g in frame.groupby("period")}
count = len(periods)


def drift_share(end: int, t: int) -> float:
    reference = pd.concat([periods[p] for p in range(end - spec["window"], end)], ignore_index=True)
    snapshot = Report([DataDriftPreset()]).run(
        current_data=Dataset.from_pandas(periods[t].reset_index(drop=True), data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    for metric in snapshot.dict()["metrics"]:
        value = metric.get("value")
        if isinstance(value, dict) and "count" in value and "share" in value:
            return float(value["share"])
    raise RuntimeError("DataDriftPreset returned no drifted-columns count")


end, retrain_at, shares = spec["first"], [], []
for t in range(spec["first"] + 1, count):
    share = drift_share(end, t)
    shares.append(share)
    if share >= 0.5:
        end = t
        retrain_at.append(t)
print(json.dumps({"retrain_at": retrain_at, "shares": shares}))

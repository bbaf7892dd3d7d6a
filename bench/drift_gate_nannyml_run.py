"""NannyML's CBPE on every model of one stream: print each model's estimated accuracy and alerts per period, as JSON.

Runs in its own venv (nannyml 0.13.1 needs pandas < 3 and statsmodels), called by bench/drift_gate_anchors.py:
    /work/venv-nannyml/bin/python bench/drift_gate_nannyml_run.py models.npz

models.npz holds, for each model end e listed in `ends`: `ref_proba_e`, `ref_label_e`, `ref_period_e` (the
model's reference: out-of-fold predictions on its own training window, with their labels) and `proba_e`,
`period_e` (the served model's predictions on every period from e on, no labels). Each period is one chunk (one
day of a made-up timestamp), so NannyML's default thresholds come from the reference's periods. Output:
{e: {"period": [...], "estimate": [...], "below": [...]}}, `below` being NannyML's alert on the low side only
(estimated accuracy under its lower threshold): an estimate above the reference's range is no reason to retrain.
"""

import json
import sys
import warnings

import nannyml as nml
import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")  # "the resulting number of chunks is too low": the windows are 3 to 20 periods
DAY0 = pd.Timestamp("2000-01-01")


def frame(proba: np.ndarray, period: np.ndarray, label: np.ndarray | None = None) -> pd.DataFrame:
    out = pd.DataFrame(
        {"proba": proba, "pred": (proba >= 0.5).astype(int), "ts": DAY0 + pd.to_timedelta(period, unit="D")}
    )
    if label is not None:
        out["label"] = label.astype(int)
    return out


data = np.load(sys.argv[1])
result = {}
for end in data["ends"].tolist():
    estimator = nml.CBPE(
        y_pred_proba="proba",
        y_pred="pred",
        y_true="label",
        timestamp_column_name="ts",
        metrics=["accuracy"],
        chunk_period="D",
        problem_type="classification_binary",
    )
    estimator.fit(frame(data[f"ref_proba_{end}"], data[f"ref_period_{end}"], data[f"ref_label_{end}"]))
    table = estimator.estimate(frame(data[f"proba_{end}"], data[f"period_{end}"])).filter(period="analysis").to_df()
    value, lower = table[("accuracy", "value")], table[("accuracy", "lower_threshold")]
    result[end] = {
        "period": [int((start - DAY0).days) for start in pd.to_datetime(table[("chunk", "start_date")])],
        "estimate": [float(v) for v in value],
        "below": [bool(v < low) for v, low in zip(value, lower, strict=True)],
    }
print(json.dumps(result))

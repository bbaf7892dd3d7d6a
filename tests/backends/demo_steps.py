"""A small real pipeline for backend tests: sklearn's bundled breast-cancer data -> split -> a gate -> when it
passes, a LogisticRegression fitted as a runtime="training" step (spot allowed) -> scored by the reference
pipelines' evaluate_classifier.

It has what the backends must translate (a Processing-kind step, a Training-kind step, a step value that a
when() block tests, Model and Metrics artifacts) and runs in seconds. Importable as `demo_steps` with this folder
on sys.path (pytest puts it there; subprocesses get it through PYTHONPATH).
"""

import json
import pickle
from pathlib import Path
from typing import NamedTuple

from greenpipe import Dataset, Metrics, Model, Output, Resources, pipeline, step, when
from greenpipe.pipelines.rainfall import evaluate_classifier

TARGET = "label"


@step(description="Write one of sklearn's bundled classification sets as Parquet, label in `label`")
def load_data(data: Output[Dataset], dataset: str = "breast_cancer") -> None:
    import pandas as pd
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{dataset}")()
    frame = pd.DataFrame(bunch.data, columns=[f"f{i}" for i in range(bunch.data.shape[1])])
    frame[TARGET] = bunch.target.astype("int64")
    frame.to_parquet(data.path, index=False)


@step(description="Shuffle with a seed and split into train and test")
def split(data: Dataset, train: Output[Dataset], test: Output[Dataset], test_share: float = 0.3, seed: int = 0) -> None:
    import pandas as pd

    frame = pd.read_parquet(data.path).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    cut = int(len(frame) * (1 - test_share))
    frame.iloc[:cut].to_parquet(train.path, index=False)
    frame.iloc[cut:].to_parquet(test.path, index=False)


class Enough(NamedTuple):
    enough: bool
    rows: int
    positive_share: float


@step(description="Is there enough labelled data with both classes to train on?")
def check_rows(data: Dataset, min_rows: int = 100) -> Enough:
    import pandas as pd

    labels = pd.read_parquet(data.path)[TARGET]
    share = float(labels.mean()) if len(labels) else 0.0
    return Enough(len(labels) >= min_rows and 0 < share < 1, len(labels), share)


@step(
    description="Fit a scaled LogisticRegression into a Model folder (model.pkl + model.json)",
    resources=Resources(cpu=1, memory_gb=1, spot=True),
    runtime="training",
)
def fit(train: Dataset, model: Output[Model], metrics: Output[Metrics], c: float = 1.0, max_iter: int = 200) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.read_parquet(train.path)
    features = [c for c in frame.columns if c != TARGET]
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
    clf.fit(frame[features], frame[TARGET])
    folder = Path(model.path)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "model.pkl", "wb") as handle:
        pickle.dump(clf, handle)
    described = {"estimator": "LogisticRegression", "features": features, "target": TARGET, "params": {"C": c}}
    (folder / "model.json").write_text(json.dumps(described, sort_keys=True))
    metrics.log_metric("train_accuracy", clf.score(frame[features], frame[TARGET]))
    metrics.log_metric("train_rows", len(frame))


@pipeline(name="demo", description="Fit and score a classifier when there is enough data")
def demo(dataset: str = "breast_cancer", min_rows: int = 100, c: float = 1.0) -> None:
    data = load_data(dataset=dataset)
    parts = split(data=data.data)
    gate = check_rows(data=parts.train, min_rows=min_rows)
    with when(gate.enough):
        fitted = fit(train=parts.train, c=c)
        evaluate_classifier(model=fitted.model, test=parts.test)

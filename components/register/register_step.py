"""The `register` step: record a model version, decide champion/challenger, write its card with its footprint."""

from pathlib import Path
from typing import Literal, NamedTuple

from greenpipe import Artifact, CachePolicy, Dataset, Metrics, Model, Output, Report, step
from greenpipe.artifacts import write_json_atomic, write_text_atomic
from greenpipe.components.contracts.metrics import MetricName


class RegisterResult(NamedTuple):
    version: int
    promoted: bool
    champion_version: int


@step(
    description="Register a model version with its lineage and measured footprint; promote it if it beats the "
    "champion on the same data",
    # the registry's state (the champion) is not part of the cache key, so a cached answer could be stale
    cache=CachePolicy(enabled=False),
    varies="the model card carries the footprint the ledger measured, and the registry's version numbers",
)
def register(
    model: Model,
    metrics: Metrics,
    card: Output[Report],
    validation: Dataset | None = None,
    baseline: Artifact | None = None,
    model_name: str = "model",
    metric: MetricName = "accuracy",
    promote_margin: float = 0.0,
    intended_use: str = "",
    description: str = "",
    owner: str = "",
    risk_rating: Literal["High", "Medium", "Low", "Unknown"] = "Unknown",
    problem_type: str = "",
    training_type: str = "pre-training",
    mlflow_tracking_uri: str = "",
) -> RegisterResult:
    """Register `model` under `model_name` and write its model card folder at `card`.

    Args:
        model: a folder with model.pkl and model.json.
        metrics: the evaluation's metrics; `metric` must be one of them.
        validation: the data the metrics were measured on; needed to compare with the champion on the same data.
        baseline: the drift baseline shipped with the model (pinned with it).
        card: written: model_card.json (SageMaker's model card schema), card.md, card.html and footprint.json.
        model_name: the registered model's name; versions are numbered within it.
        metric: the metric that decides champion and challenger (its direction is the metric registry's); must
            be in `metrics`. A model name keeps the metric it was first registered with.
        promote_margin: how much better than the champion the candidate must be (in `metric` units).
        intended_use: the card's intended uses (free text).
        description: the card's model description (free text; empty names the estimator).
        owner: the card's model owner.
        risk_rating: the card's risk rating, one of SageMaker's values.
        problem_type: the card's problem type (e.g. "binary classification").
        training_type: how the footprint's training was done, for the card's CO2 section ("pre-training" or
            "fine-tuning").
        mlflow_tracking_uri: also register the version in MLflow (e.g. sqlite:///mlflow.db); needs the extra.
    """
    import greenpipe.components.register.card as card_lib
    import greenpipe.components.register.registry as registry
    from greenpipe.components.contracts.metrics import metric as registered_metric
    from greenpipe.components.contracts.model_folder import read_description
    from greenpipe.components.register.errors import ModelTampered, RegistryError
    from greenpipe.components.register.footprint import data_digests, footprint_of, lineage_executions
    from greenpipe.components.register.promotion import decide
    from greenpipe.context import current
    from greenpipe.digest import digest_path

    if not model_name.strip():
        raise RegistryError("model_name='' is empty: name the model, e.g. model_name='rain-classifier'")
    higher_is_better = registered_metric(metric, computed_by="register").higher_is_better
    if risk_rating not in card_lib.RISK_RATINGS:
        raise RegistryError(f"risk_rating={risk_rating!r} is not one of {', '.join(card_lib.RISK_RATINGS)}")
    if promote_margin < 0:
        raise RegistryError(
            f"promote_margin={promote_margin!r} must be >= 0 (it is how much better, in "
            f"{metric} units, a candidate must be)"
        )
    model_digest = digest_path(model.path)
    if model.digest and model_digest != model.digest:
        raise ModelTampered(
            f"model input {model.path} has digest {model_digest}, not the {model.digest} the "
            "pipeline recorded; refusing to register a changed artifact"
        )
    scores = metrics.values()
    if metric not in scores:
        raise RegistryError(f"metric={metric!r} is not in the metrics input; it has {sorted(scores)}")
    metrics_digest = metrics.digest or digest_path(metrics.path)
    eval_digest = (validation.digest or digest_path(validation.path)) if validation is not None else ""
    baseline_digest = (baseline.digest or digest_path(baseline.path)) if baseline is not None else None

    ctx = current()
    store = ctx.store()
    rows = lineage_executions(store, [model_digest, metrics_digest])
    fp = footprint_of(store, [model_digest, metrics_digest]).to_dict()
    lineage = [
        {"exec_id": r["exec_id"], "run_id": r["run_id"], "task": r["task"], "step_ref": r["step_ref"]} for r in rows
    ]
    version, _new = registry.add_version(
        store,
        name=model_name,
        model_digest=model_digest,
        metrics=scores,
        eval_digest=eval_digest,
        baseline_digest=baseline_digest,
        data_digests=data_digests(store, rows),
        lineage=lineage,
        footprint=fp,
        metric=metric,
        higher_is_better=higher_is_better,
        owner=owner,
        description=description,
        run_id=ctx.run_id,
        exec_id=ctx.exec_id,
    )
    if eval_digest:
        registry.record_evaluation(
            store, model_name, version, eval_digest, metric, scores[metric], f"metrics:{metrics_digest}"
        )
    decision = decide(
        store,
        name=model_name,
        version=version,
        metric=metric,
        higher_is_better=higher_is_better,
        margin=promote_margin,
        candidate_score=scores[metric],
        eval_digest=eval_digest,
        eval_path=validation.path if validation is not None else None,
        exec_id=ctx.exec_id,
    )
    ctx.log(decision.reason)

    record = registry.get_version(store, model_name, version).to_dict()
    described = read_description(model.path)
    spec = described.to_json() if described is not None else {}
    content = card_lib.build_content(
        name=model_name,
        version=version,
        record=record,
        spec=spec,
        footprint=fp,
        metric=metric,
        higher_is_better=higher_is_better,
        decision_reason=decision.reason,
        description=description,
        owner=owner,
        intended_use=intended_use,
        risk_rating=risk_rating,
        problem_type=problem_type,
        aliases=registry.aliases(store, model_name),
    )
    card_lib.check_content(content)
    co2 = card_lib.co2_eq_emissions(fp, training_type)
    folder = Path(card.path)
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / "model_card.json", content)
    write_json_atomic(folder / "footprint.json", {"co2_eq_emissions": co2, "footprint": fp})
    _write_text(folder / "card.md", card_lib.render_markdown(content, co2, fp))
    _write_text(folder / "card.html", card_lib.render_html(content, co2, fp))
    registry.set_card(store, model_name, version, content, ctx.exec_id)

    if mlflow_tracking_uri:
        from greenpipe.components.register.mlflow_backend import register_in_mlflow

        register_in_mlflow(
            mlflow_tracking_uri,
            name=model_name,
            model_dir=model.path,
            metrics=scores,
            footprint=fp,
            custom_details=content["additional_information"]["custom_details"],
            champion=decision.promoted,
            card_dir=folder,
        )
    return RegisterResult(version, decision.promoted, decision.champion_version)


def _write_text(path: Path, text: str) -> None:
    write_text_atomic(path, text)

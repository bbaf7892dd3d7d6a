"""The `compress` step: make smaller or faster forms of a model, measure each, keep the cheapest within the bar."""

# no `from __future__ import annotations` here: the engine reads the NamedTuple's raw __annotations__
import pickle
import shutil
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from greenpipe import Dataset, Metrics, Model, Output, Report, step
from greenpipe.artifacts import write_json_atomic, write_text_atomic
from greenpipe.components.contracts.metrics import MetricName


class CompressResult(NamedTuple):
    chosen: str
    metric_drop_pts: float
    agreement: float
    size_ratio: float


@step(
    description="Try smaller or faster forms of a model (ONNX, int8, fewer trees); keep the cheapest within the bar",
    varies="latency is measured on this machine as the step runs (the report only; the model and metrics do not vary)",
)
def compress(
    model: Model,
    validation: Dataset,
    compressed: Output[Model],
    report: Output[Report],
    metrics: Output[Metrics],
    data: Dataset | None = None,
    metric: MetricName = "accuracy",
    max_metric_drop: float = 0.5,
    measure_budget_s: float = 0.5,
) -> CompressResult:
    """Try each form of `model` (see candidates.py), score it on `validation`, time it, and keep the cheapest.

    Args:
        model: a model folder, model.pkl + model.json (see contracts/model_folder.py), e.g. spot_train's model.
        validation: labelled rows with the model's features; the metric, agreement and timings are measured on it.
        compressed: written: the chosen form, model.pkl (+ model.onnx) and model.json with its "form".
        report: written: tradeoffs.json, tradeoffs.md and index.html, one row per form tried.
        metrics: written: the chosen form's metric, the original's, agreement with the original, size and latency.
        data: training rows; used only to distil a small tree when the original does not convert.
        metric: one of the metric registry's (accuracy, balanced_accuracy, f1, roc_auc, log_loss, r2, rmse, mae).
        max_metric_drop: how many points (0.01 of the metric) the chosen form may lose against the original.
        measure_budget_s: wall seconds of timing per candidate and batch size.
    """
    import numpy as np
    import pandas as pd

    import greenpipe.components.compress.candidates as cand_lib
    from greenpipe.components.compress.errors import CompressError
    from greenpipe.components.compress.evaluation import agreement, metric_direction, metric_value
    from greenpipe.components.compress.measure import measure
    from greenpipe.components.compress.projection import per_million
    from greenpipe.components.compress.tradeoff import Row, choose, drop_points, markdown
    from greenpipe.components.contracts.model_folder import ModelFolder, write_model_folder
    from greenpipe.context import current
    from greenpipe.digest import digest_path

    higher = metric_direction(metric)
    if not max_metric_drop >= 0:
        raise CompressError(
            f"max_metric_drop={max_metric_drop!r} must be >= 0: it is how many points (0.01 of {metric}) the "
            "compressed form may lose, e.g. 0.5"
        )
    if measure_budget_s <= 0:
        raise CompressError(f"measure_budget_s={measure_budget_s!r} must be > 0 (seconds of timing per form)")
    source = ModelFolder.open(model.path)
    folder = source.path
    original_digest = digest_path(folder)
    if model.digest and original_digest != model.digest:
        raise CompressError(f"model input {model.path} changed since the pipeline recorded {model.digest}")
    described = source.description()
    estimator = source.load()  # a stored artifact whose digest was checked above
    frame = pd.read_parquet(validation.path)
    target = described.target
    features = described.feature_columns(list(frame.columns))
    missing = [c for c in [*features, target] if c not in frame.columns]
    if missing:
        raise CompressError(f"validation lacks the columns {missing} that the model's model.json names")
    named = hasattr(estimator, "feature_names_in_")
    x_frame = frame[features]
    x_array = x_frame.to_numpy(dtype=np.float64)
    y = frame[target].to_numpy()
    train_x = None
    if data is not None:
        train_x = pd.read_parquet(data.path)[features]
        train_x = train_x if named else train_x.to_numpy(dtype=np.float64)

    built = cand_lib.build(estimator, len(features), train_x, stored=source.model_file.read_bytes())
    classifier = hasattr(estimator, "classes_")
    rows: list[Row] = []
    original_pred = None
    original_score = 0.0
    for c in built:
        if not c.ok:
            rows.append(Row(c.name, c.route, False, reason=c.reason))
            continue
        x = x_frame if hasattr(c.predictor, "feature_names_in_") else x_array
        score, pred = metric_value(metric, c.predictor, x, y)
        if c.name == "original":
            original_pred, original_score = pred, score
        timing = measure(c.predictor.predict_proba if classifier else c.predictor.predict, x, measure_budget_s)
        drop = drop_points(original_score, score, higher)
        rows.append(
            Row(
                c.name,
                c.route,
                True,
                reason="; ".join(c.notes),
                size_bytes=len(c.artifact),
                metric=score,
                drop_pts=drop,
                agreement=agreement(original_pred, pred, classifier),
                p50_ms_b1=timing.at(1).p50_ms,
                p99_ms_b1=timing.at(1).p99_ms,
                p50_ms_b1000=timing.at(1000).p50_ms,
                p99_ms_b1000=timing.at(1000).p99_ms,
                cpu_s_per_1000=timing.cpu_s_per_1000,
                rows_per_s=timing.rows_per_s,
                within_bar=drop <= max_metric_drop + 1e-12,
            )
        )
    chosen = choose(rows, max_metric_drop)
    original = rows[0]
    chosen_candidate = next(c for c in built if c.name == chosen.name)

    out = Path(compressed.path)
    if chosen.name == "original":
        shutil.copytree(folder, out)
    else:
        details = dict(described.details, form=chosen.name, compressed_from=original_digest, route=chosen.route)
        onnx = {"model.onnx": chosen_candidate.artifact} if chosen_candidate.artifact_kind == "onnx" else {}
        write_model_folder(out, pickle.dumps(chosen_candidate.predictor), replace(described, details=details), onnx)

    saving = per_million(original, chosen)
    ctx = current()
    table = markdown(rows, chosen.name, metric, max_metric_drop)
    report_dir = Path(report.path)
    report_dir.mkdir(parents=True)
    write_json_atomic(
        report_dir / "tradeoffs.json",
        {
            "metric": metric,
            "higher_is_better": higher,
            "max_metric_drop": max_metric_drop,
            "chosen": chosen.name,
            "original_digest": original_digest,
            "eval_digest": validation.digest or digest_path(validation.path),
            "spec": described.to_json(),
            "rows": [r.to_dict() for r in rows],
            "projection": saving,
        },
    )
    note = (
        f"\n**Projection, not a measurement:** serving 1M predictions with {chosen.name} instead of the original "
        f"would use {saving['saved_kwh_per_million'] * 1000:.4g} Wh less ({saving['basis']}).\n"
    )
    write_text_atomic(report_dir / "tradeoffs.md", f"# Compression of {original_digest}\n\n{table}{note}")
    write_text_atomic(report_dir / "index.html", _html(table + note))
    metrics.log_metric(metric, chosen.metric or 0.0)
    metrics.log_metric(f"original_{metric}", original.metric or 0.0)
    metrics.log_metric("agreement_with_original", chosen.agreement or 0.0)
    metrics.log_metric("size_bytes", chosen.size_bytes)
    metrics.log_metric("original_size_bytes", original.size_bytes)
    if saving["saved_kwh_per_million"] > 0:
        ctx.credit_avoided(
            "projection",
            saving["saved_kwh_per_million"],
            f"projected from measured CPU s per 1k predictions: {saving['basis']}",
            "projection per 1M predictions; not a measured saving",
        )

    return CompressResult(
        chosen.name,
        float(chosen.drop_pts or 0.0),
        float(chosen.agreement or 0.0),
        chosen.size_bytes / max(original.size_bytes, 1),
    )


def _html(markdown_text: str) -> str:
    import html

    body = html.escape(markdown_text)
    return f"<!doctype html><html><body><h1>Compression trade-offs</h1><pre>{body}</pre></body></html>"

"""The small_sample step: pick the simplest model that meets the need, and how much data it needs."""

import math
import warnings
from typing import Any, Literal, NamedTuple

from greenpipe import Artifact, CodeRef, Dataset, Metrics, Output, Report, Resources, step
from greenpipe.artifacts import write_json_atomic
from greenpipe.errors import GreenpipeError
from greenpipe.ledger import register_credit_kind

register_credit_kind("small_sample", "small samples")

DEFAULT_FRACTIONS = [0.01, 0.02, 0.04, 0.08, 0.16]
MIN_DATASET_ROWS = 20
# a curve that trains on at least this share of the rows (summed over its samples) costs about what the
# full-data fits it replaces: compare on all the rows instead
CURVE_SHARE_LIMIT = 0.5


class SmallSampleWarning(UserWarning):
    """No candidate is predicted to reach the threshold; the best one is returned anyway."""


class SmallSampleResult(NamedTuple):
    candidate: str
    fraction: float
    met_threshold: bool


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def load_training_frame(path: str, target: str, features: list[str]) -> tuple[Any, Any, list[str], list[str]]:
    """(X, y, feature names, ignored non-numeric columns) from a Parquet file; clear errors for a bad target."""
    import pandas as pd

    frame = pd.read_parquet(path)
    if target not in frame.columns:
        raise GreenpipeError(
            f"target={target!r} is not a column of the dataset (columns: "
            f"{', '.join(map(str, frame.columns))}); pass target=<the label column>"
        )
    frame = frame[frame[target].notna()]
    if frame[target].nunique() < 2:
        values = frame[target].unique().tolist()
        raise GreenpipeError(
            f"target column {target!r} is constant ({values[:1] or 'all missing'}): there is "
            "nothing to learn; pass a label column with at least two distinct values"
        )
    if len(frame) < MIN_DATASET_ROWS:
        raise GreenpipeError(
            f"the dataset has {len(frame)} labelled rows; small_sample needs at least {MIN_DATASET_ROWS}"
        )
    others = [c for c in frame.columns if c != target]
    numeric = [c for c in others if pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])]
    if features:
        unknown = [c for c in features if c not in others]
        if unknown:
            raise GreenpipeError(f"feature_columns={unknown} are not columns of the dataset (besides the target)")
        wrong = [c for c in features if c not in numeric]
        if wrong:
            raise GreenpipeError(f"feature_columns={wrong} are not numeric; encode them first or leave them out")
        chosen, ignored = list(features), []
    else:
        chosen, ignored = numeric, [c for c in others if c not in numeric]
    if not chosen:
        raise GreenpipeError(f"the dataset has no numeric feature column besides target={target!r}")
    X = frame[chosen].astype("float64").reset_index(drop=True)
    return X, frame[target].reset_index(drop=True), [str(c) for c in chosen], [str(c) for c in ignored]


def check_params(
    threshold: float,
    fractions: list[float] | None,
    holdout: float,
    tolerance: float,
    min_rows: int,
    threads: int,
    full_data_below: int,
) -> None:
    """The params small_sample can check before a run starts (greenpipe calls it then, and the step again)."""
    fractions = list(fractions) if fractions else list(DEFAULT_FRACTIONS)
    if not math.isfinite(threshold):
        raise GreenpipeError(f"threshold={threshold!r} must be a finite number")
    if any(not (0.0 < f <= 1.0) for f in fractions):
        raise GreenpipeError(f"fractions={fractions!r} must be a non-empty list of numbers in (0, 1]")
    if not 0.0 < holdout < 0.9:
        raise GreenpipeError(f"holdout={holdout!r} must be in (0, 0.9): the share of rows kept to score on")
    if tolerance < 0:
        raise GreenpipeError(f"tolerance={tolerance!r} must be >= 0")
    if min_rows < 1:
        raise GreenpipeError(f"min_rows={min_rows!r} must be >= 1")
    if threads < 1:
        raise GreenpipeError(f"threads={threads!r} must be >= 1")
    if full_data_below < 0:
        raise GreenpipeError(
            f"full_data_below={full_data_below!r} must be >= 0 (0: sample whenever the schedule is small enough)"
        )


def sampling_pays(pool_rows: int, schedule: list[float], full_data_below: int) -> tuple[bool, str]:
    """(whether learning curves are worth it on this pool, why): tiny pools are compared on all their rows."""
    if pool_rows < full_data_below:
        return False, (
            f"{pool_rows} training rows < full_data_below={full_data_below}: per-fit costs dominate, so a "
            "learning curve costs about as much as fitting every candidate on all the rows; fitted on all the rows"
        )
    share = sum(schedule)
    if share >= CURVE_SHARE_LIMIT:
        return False, (
            f"the sample schedule trains on {share:.2f} x the training rows in all (>= {CURVE_SHARE_LIMIT}): "
            "no cheaper than fitting on all the rows; fitted on all the rows"
        )
    return True, f"learning curves on {len(schedule)} samples of {pool_rows} training rows"


@step(
    description="Choose the simplest model that meets a metric threshold, learning on small samples first",
    resources=Resources(cpu=2, memory_gb=4),
    check=check_params,
)
def small_sample(
    data: Dataset,
    choice: Output[Artifact],
    report: Output[Report],
    metrics: Output[Metrics],
    target: str,
    threshold: float,
    metric: str = "auto",
    task: Literal["auto", "classification", "regression"] = "auto",
    candidates: list[CodeRef] | None = None,
    fractions: list[float] | None = None,
    min_rows: int = 100,
    holdout: float = 0.2,
    tolerance: float = 0.01,
    feature_columns: list[str] | None = None,
    seed: int = 0,
    threads: int = 1,
    full_data_below: int = 10_000,
) -> SmallSampleResult:
    """Try candidates simple -> complex on growing samples, predict each one's full-data metric from its
    learning curve, and stop at the first that meets `threshold`.

    Args:
        data: Parquet training table; features are its numeric/bool columns other than `target` (or
            `feature_columns`).
        choice: written: JSON {"candidate", "fraction", "met_threshold", "predicted", ...}, what bayes_tune and
            spot_train read.
        report: written: the learning curves (report.json, index.html) of every candidate tried.
        metrics: written: the chosen candidate's predicted full-data metric, fraction and samples fitted.
        target: the label column.
        threshold: the acceptance level of `metric` (higher is better; for neg_rmse / neg_mae give a negative
            number).
        metric: accuracy, balanced_accuracy, f1, roc_auc (classification), r2, neg_rmse, neg_mae (regression);
            "auto" picks accuracy or r2.
        candidates: built-in names (linear, random_forest, hist_gradient_boosting, mlp) or "module:factory"
            import paths of functions returning an unfitted sklearn-style estimator; simplest first.
        task: "classification" or "regression"; "auto" infers it from the target column.
        fractions: the sample schedule, as fractions of the training rows (raised to at least `min_rows`).
        min_rows: the smallest sample fitted, whatever its fraction.
        feature_columns: the feature columns to use; None uses every numeric/bool column besides `target`.
        seed: seeds the holdout split, the samples and the candidates.
        holdout: share of rows kept aside (stratified, seeded) to score every sample on.
        tolerance: the noise margin of the curve bounds (a candidate meets the threshold once its last two
            samples clear it by this much), and how close to the full-data prediction the recommended fraction
            must be.
        threads: BLAS/OpenMP threads per fit (1 is the most CPU-efficient on small samples).
        full_data_below: training pools with fewer rows skip the learning curves and compare the candidates
            on all their rows, in order (a curve would cost as much as the fits it saves); so does a schedule
            whose samples add up to half the training rows or more.
    """
    from greenpipe.components.small_sample.candidates import resolve_candidates
    from greenpipe.components.small_sample.report import render_html
    from greenpipe.components.small_sample.sampling import effective_schedule, split_holdout
    from greenpipe.components.small_sample.scoring import infer_task, resolve_metric
    from greenpipe.components.small_sample.search import run_search
    from greenpipe.context import current

    schedule_asked = list(fractions) if fractions else list(DEFAULT_FRACTIONS)
    check_params(threshold, schedule_asked, holdout, tolerance, min_rows, threads, full_data_below)
    X, y, feature_names, ignored = load_training_frame(data.path, target, list(feature_columns or []))
    kind = infer_task(y, task, metric)
    scorer = resolve_metric(metric, kind)
    if kind == "regression":
        y = y.astype("float64")
    pool = resolve_candidates(list(candidates or []), kind)
    stratify = kind == "classification"
    train_pos, hold_pos = split_holdout(y, holdout, seed, stratify)
    X_train, y_train = X.iloc[train_pos].reset_index(drop=True), y.iloc[train_pos].reset_index(drop=True)
    X_hold, y_hold = X.iloc[hold_pos], y.iloc[hold_pos]
    schedule = effective_schedule(schedule_asked, len(y_train), min_rows)
    sample, mode_reason = sampling_pays(len(y_train), schedule, full_data_below)
    ctx = current()
    ctx.log(mode_reason)
    result = run_search(
        X_train,
        y_train,
        X_hold,
        y_hold,
        pool,
        scorer,
        threshold,
        schedule,
        tolerance,
        seed,
        stratify,
        threads=threads,
        log=ctx.log,
        full_data=not sample,
    )

    _, exhaustive_kwh = result.predicted_exhaustive()
    # the engine's ledger records what the whole step spent; avoided compares like with like: the predicted
    # full-data fits against the measured sample fits (imports and data preparation would be paid both ways)
    fits_kwh = result.spent_kwh
    avoided_kwh = max(0.0, exhaustive_kwh - fits_kwh)
    if avoided_kwh > 0:
        measured = "; ".join(
            f"{c.name} {c.kwh_line.per_row * 3.6e9:.3g} mJ/row x {result.pool_rows} rows"
            f" + {c.kwh_line.fixed * 3.6e6:.3g} J"
            for c in result.candidates
            if c.kwh_line is not None
        )
        ctx.credit_avoided(
            "small_sample",
            avoided_kwh,
            traced_to=f"predicted from measured per-row cost: {measured}; minus {fits_kwh * 3.6e6:.3g} J "
            "measured for the sample fits in this search",
            note="a prediction, not a measurement: training every measured candidate on all the data; "
            "candidates never run are not counted",
        )
    if result.warning:
        warnings.warn(result.warning, SmallSampleWarning, stacklevel=2)
        ctx.log("WARNING " + result.warning)

    chosen = result.chosen
    assert chosen.fit is not None
    # results only: measured CPU seconds and energy would make equal inputs give unequal bytes (they are in
    # the ledger, with the avoided-energy credit above)
    document = {
        "candidate": chosen.name,
        "factory": chosen.factory,
        "fraction": result.fraction,
        "training_rows": result.pool_rows,
        "sampled": sample,
        "mode_reason": mode_reason,
        "predicted_metric": chosen.fit.predicted,
        "uncertainty": _finite(chosen.fit.uncertainty),
        "curve": chosen.fit.method,
        "metric": scorer.name,
        "threshold": threshold,
        "met_threshold": result.met_threshold,
        "warning": result.warning,
        "task": kind,
        "target": target,
        "features": feature_names,
        "ignored_columns": ignored,
        "seed": seed,
        "candidates": [
            {
                "name": c.name,
                "factory": c.factory,
                "decision": c.decision,
                "reason": c.reason,
                "predicted_metric": c.fit.predicted if c.fit else None,
                "uncertainty": _finite(c.fit.uncertainty) if c.fit else None,
                "points": [{"fraction": p.fraction, "rows": p.rows, "value": p.value} for p in c.points],
            }
            for c in result.candidates
        ],
    }
    write_json_atomic(choice.path, document)
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(render_html(result, mode_reason))
    metrics.log_metric("predicted_metric", chosen.fit.predicted)
    if math.isfinite(chosen.fit.uncertainty):
        metrics.log_metric("uncertainty", chosen.fit.uncertainty)
    metrics.log_metric("fraction", result.fraction)
    metrics.log_metric("met_threshold", float(result.met_threshold))
    metrics.log_metric("candidates_run", sum(1 for c in result.candidates if c.points))
    metrics.log_metric("sampled", float(sample))
    return SmallSampleResult(chosen.name, float(result.fraction), bool(result.met_threshold))

"""The `serve` step: choose how to serve a model for a traffic profile, emit the requests, and batch-score data."""

# no `from __future__ import annotations` here: the engine reads the NamedTuple's raw __annotations__
import json
from pathlib import Path
from typing import NamedTuple

from greenpipe import Dataset, Model, Output, Report, step
from greenpipe.artifacts import write_json_atomic, write_text_atomic


class ServeResult(NamedTuple):
    """The decision only: the estimates behind it come from timings, so they live in the recommendation report
    (returned values must be equal for equal inputs, or nothing downstream could be cached)."""

    mode: str  # batch_transform, async, serverless or real_time
    instance_type: str  # or "serverless-<MB>"


@step(
    description="Choose batch, async, serverless or real-time serving from traffic and latency; emit the requests",
    varies="the choice and its estimates come from the model's latency measured by compress",
)
def serve(
    model: Model,
    data: Dataset,
    recommendation: Output[Report],
    scored: Output[Dataset],
    measurements: Report | None = None,
    traffic: dict | None = None,
    latency_objective_ms: float = 1000.0,
    region: str = "",
    chunk_rows: int = 1000,
    name_prefix: str = "greenpipe",
    image_uri: str = "",
    role_arn: str = "",
    model_s3: str = "s3://greenpipe-models/model.tar.gz",
    input_s3: str = "s3://greenpipe-data/input/",
    output_s3: str = "s3://greenpipe-data/output/",
) -> ServeResult:
    """Recommend a serving mode for `traffic` and score `data` locally as a batch transform would.

    Args:
        model: a model folder, model.pkl + model.json (see contracts/model_folder.py), e.g. compress's `compressed`.
        data: rows to score; the local batch transform writes them with predictions to `scored`.
        recommendation: written: recommendation.json and .md (the chosen mode, every option's estimates and
            assumptions), sagemaker_requests.json and, when it applies, kserve_inferenceservice.json.
        scored: written: `data`'s rows with the model's predictions, scored in chunks as a batch transform would.
        measurements: compress's `report` folder; its chosen row gives the latency. Without it, serve times the
            model itself on `data`.
        traffic: see greenpipe.components.serve.traffic; None means one batch of `data`'s rows a day.
        latency_objective_ms: how long a caller may wait for an answer.
        region: grid intensity for CO2e (an AWS region); "" uses --region / GREENPIPE_REGION / us-east-1.
        chunk_rows: rows scored per chunk by the local batch transform (bounds its memory).
        name_prefix: prefix of the SageMaker resource names (model, endpoint config, transform job) and of the
            KServe InferenceService.
        image_uri: the serving container image in the SageMaker requests; "" writes a placeholder to replace.
        role_arn: the execution role in the SageMaker requests; "" writes a placeholder to replace.
        model_s3: where the model archive is in S3, for CreateModel and the KServe storage URI.
        input_s3: the S3 prefix a batch transform reads.
        output_s3: the S3 prefix a batch transform writes.
    """
    import pyarrow.parquet as pq

    import greenpipe.components.serve.decision as dec
    from greenpipe.components.contracts.model_folder import ModelFolder
    from greenpipe.components.serve.batch_transform import score_in_chunks
    from greenpipe.components.serve.errors import ServeError
    from greenpipe.components.serve.instances import SOURCE, smallest_for
    from greenpipe.components.serve.kserve import inference_service
    from greenpipe.components.serve.report import render
    from greenpipe.components.serve.sagemaker_request import requests_for
    from greenpipe.components.serve.traffic import parse
    from greenpipe.context import current
    from greenpipe.ledger import DEFAULT_PUE, co2e_g, grid_intensity

    if not latency_objective_ms > 0:
        raise ServeError(f"latency_objective_ms={latency_objective_ms!r} must be > 0 (milliseconds a caller waits)")
    if chunk_rows < 1:
        raise ServeError(f"chunk_rows={chunk_rows!r} must be >= 1 (rows scored per chunk)")
    source = ModelFolder.open(model.path)
    described = source.description()
    rows_in_data = pq.ParquetFile(data.path).metadata.num_rows
    profile = parse(traffic if traffic is not None else {"batch_rows": max(rows_in_data, 1), "every": "P1D"})

    import psutil

    rss0 = psutil.Process().memory_info().rss
    estimator = source.load()  # a stored artifact, verified against its digest before this step ran
    features = list(described.features)
    n = score_in_chunks(estimator, features, data.path, scored.path, chunk_rows)
    memory_mb = max((psutil.Process().memory_info().rss - rss0) / 2**20, source.model_file.stat().st_size / 2**20)
    measured = _latency(measurements, estimator, features, data.path, memory_mb)

    instance = smallest_for(measured.memory_mb)
    assumptions = dec.Assumptions()
    candidates = dec.options(profile, measured, instance, latency_objective_ms, assumptions)
    chosen = dec.choose(candidates)
    intensity = grid_intensity(region or None)
    always_on = profile.hours_per_month
    for option in candidates:
        kwh = dec.energy_kwh(option, instance, DEFAULT_PUE)
        option.config["energy_kwh_month"] = kwh
        option.config["co2e_kg_month"] = co2e_g(kwh, intensity) / 1000
    requests = requests_for(
        chosen,
        prefix=name_prefix,
        image_uri=image_uri,
        role_arn=role_arn,
        model_s3=model_s3,
        input_s3=input_s3,
        output_s3=output_s3,
        form=described.form,
    )
    manifest = inference_service(
        name=name_prefix,
        form=described.form,
        storage_uri=model_s3.rsplit("/", 1)[0] + "/",
        option=chosen,
        traffic=profile,
        memory_mb=measured.memory_mb,
    )
    doc = {
        "chosen": chosen.mode,
        "traffic": profile.describe(),
        "latency_objective_ms": latency_objective_ms,
        "instance": {"name": instance.name, "vcpus": instance.vcpus, "memory_gb": instance.memory_gb},
        "instance_source": SOURCE,
        "model": measured.__dict__,
        "always_on_instance_hours": always_on,
        "options": [o.to_dict() for o in candidates],
        "assumptions": assumptions.lines(),
        "grid": {"region": intensity.key, "g_per_kwh": intensity.g_per_kwh, "source": intensity.source},
        "requests": requests,
        "scored_rows": n,
    }
    out = Path(recommendation.path)
    out.mkdir(parents=True)
    write_json_atomic(out / "recommendation.json", doc)
    write_json_atomic(out / "sagemaker_requests.json", requests)
    if manifest is not None:
        write_json_atomic(out / "kserve_inferenceservice.json", manifest)
    write_text_atomic(out / "recommendation.md", render(doc))
    current().log(f"serve: {chosen.mode} ({chosen.reason}); scored {n} rows locally in chunks of {chunk_rows}")
    return ServeResult(
        chosen.mode, str(chosen.config.get("instance_type", f"serverless-{chosen.config.get('memory_mb')}"))
    )


def _latency(measurements, estimator, features, data_path, memory_mb):  # -> decision.MeasuredModel
    """The chosen form's latency from compress's report, else a quick timing of its own on the data."""
    from greenpipe.components.serve.decision import MeasuredModel

    if measurements is not None:
        table_path = Path(measurements.path) / "tradeoffs.json"
        if table_path.is_file():
            table = json.loads(table_path.read_text(encoding="utf-8"))
            row = next(r for r in table["rows"] if r["name"] == table["chosen"])
            return MeasuredModel(
                row["p50_ms_b1"], row["p99_ms_b1"], row["p50_ms_b1000"], memory_mb, f"compress ({row['name']})"
            )
    import pandas as pd

    from greenpipe.components.compress.measure import measure

    frame = pd.read_parquet(data_path, columns=features)
    x = frame if hasattr(estimator, "feature_names_in_") else frame.to_numpy()
    timing = measure(estimator.predict, x, budget_s=0.5)
    return MeasuredModel(
        timing.at(1).p50_ms, timing.at(1).p99_ms, timing.at(1000).p50_ms, memory_mb, "measured by serve"
    )

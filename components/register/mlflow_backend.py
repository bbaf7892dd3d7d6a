"""MLflow as an optional second registry (extra `mlflow`): the same version, metrics and footprint, as tags.

Telemetry is switched off (MLFLOW_DISABLE_TELEMETRY=true) before mlflow is imported. A file or sqlite tracking
URI keeps everything local; artifacts go next to a sqlite database unless `artifact_location` says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from greenpipe.components.register.errors import RegistryError

EXPERIMENT = "greenpipe-register"


def _mlflow() -> Any:
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    try:
        import mlflow
    except ImportError as exc:
        raise RegistryError(
            "mlflow_tracking_uri is set but mlflow is not installed: "
            "pip install 'greenpipe[mlflow]', or leave mlflow_tracking_uri empty"
        ) from exc
    return mlflow


def default_artifact_location(tracking_uri: str) -> str | None:
    """For `sqlite:///path/db`, a folder beside the database; otherwise MLflow's own default."""
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri[len("sqlite:///") :]).resolve().parent / "mlflow-artifacts").as_uri()
    return None


def register_in_mlflow(
    tracking_uri: str,
    *,
    name: str,
    model_dir: str,
    metrics: dict[str, float],
    footprint: dict[str, Any],
    custom_details: dict[str, str],
    champion: bool,
    card_dir: str | Path | None = None,
    artifact_location: str | None = None,
) -> dict[str, Any]:
    """Log a run with the metrics and footprint, register its model folder as a version; return its ids.

    The same model digest registered twice returns the existing MLflow version instead of adding one.
    """
    mlflow = _mlflow()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    digest = custom_details["model_digest"]
    try:
        client.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(name, tags={"greenpipe": "register"})
    for existing in client.search_model_versions(f"name='{name}'"):
        if existing.tags.get("greenpipe_model_digest") == digest:
            if champion:
                client.set_registered_model_alias(name, "champion", existing.version)
            return {"version": int(existing.version), "run_id": existing.run_id, "new": False}
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment(
            EXPERIMENT, artifact_location=artifact_location or default_artifact_location(tracking_uri)
        )
    )
    run = client.create_run(experiment_id, tags={"greenpipe_model_digest": digest})
    run_id = run.info.run_id
    for key, value in sorted(metrics.items()):
        client.log_metric(run_id, key, float(value))
    client.log_metric(run_id, "footprint_energy_kwh", float(footprint["energy_kwh"]))
    client.log_metric(run_id, "footprint_co2e_g", float(footprint["co2e_g"]))
    client.log_metric(run_id, "footprint_avoided_kwh", float(footprint["avoided_kwh"]))
    client.log_artifacts(run_id, str(model_dir), "model")
    if card_dir is not None:
        client.log_artifacts(run_id, str(card_dir), "card")
    client.set_terminated(run_id)
    tags = {f"greenpipe_{k}": v for k, v in custom_details.items()}
    tags["greenpipe_model_digest"] = digest
    source = f"{client.get_run(run_id).info.artifact_uri}/model"
    version = client.create_model_version(name, source=source, run_id=run_id, tags=tags)
    client.set_registered_model_alias(name, "candidate", version.version)
    if champion:
        client.set_registered_model_alias(name, "champion", version.version)
    return {"version": int(version.version), "run_id": run_id, "new": True}

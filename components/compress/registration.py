"""Register the chosen compressed form as a new version through the register component's registry API.

The version is never promoted here: it gets alias `compressed` and approval PendingManualApproval, and its card
shows the original's and the compressed form's scores side by side with the trade-off table. add_version is
idempotent on the model's content digest, so a rerun (or a cache hit of compress) finds the same version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from greenpipe.components.compress.tradeoff import Row

ALIAS = "compressed"


def register_compressed(
    *,
    model_name: str,
    compressed_dir: Path,
    original_digest: str,
    eval_digest: str,
    metric: str,
    higher_is_better: bool,
    original_row: Row,
    chosen_row: Row,
    table_md: str,
    spec: dict[str, Any],
    card_dir: Path,
    compressed_digest: str = "",
) -> int:
    """Add the version, record its score on the evaluation data, write and keep its card; return the version."""
    from greenpipe.artifacts import write_json_atomic, write_text_atomic
    from greenpipe.components.register import card as card_lib
    from greenpipe.components.register import registry
    from greenpipe.components.register.footprint import data_digests, footprint_of, lineage_executions
    from greenpipe.context import current
    from greenpipe.digest import digest_path

    ctx = current()
    store = ctx.store()
    digest = compressed_digest or digest_path(compressed_dir)
    rows = lineage_executions(store, [original_digest])
    footprint = footprint_of(store, [original_digest]).to_dict()
    metrics = {
        metric: float(chosen_row.metric or 0.0),
        "agreement_with_original": float(chosen_row.agreement or 0.0),
        "size_bytes": float(chosen_row.size_bytes),
    }
    version, _new = registry.add_version(
        store,
        name=model_name,
        model_digest=digest,
        metrics=metrics,
        eval_digest=eval_digest,
        baseline_digest=None,
        data_digests=data_digests(store, rows),
        lineage=[{"exec_id": r["exec_id"], "run_id": r["run_id"], "task": r["task"]} for r in rows],
        footprint=footprint,
        metric=metric,
        higher_is_better=higher_is_better,
        owner="",
        description=f"{chosen_row.name} form of model {original_digest}",
        run_id=ctx.run_id,
        exec_id=ctx.exec_id,
    )
    registry.record_evaluation(
        store, model_name, version, eval_digest, metric, metrics[metric], f"compress exec:{ctx.exec_id}"
    )
    registry.set_alias(store, model_name, ALIAS, version, f"{chosen_row.name} of {original_digest}")
    record = registry.get_version(store, model_name, version).to_dict()
    reason = (
        f"Compressed form {chosen_row.name} ({chosen_row.route}): {metric} {chosen_row.metric:.4f} vs the "
        f"original's {original_row.metric:.4f} ({chosen_row.drop_pts:+.2f} points), predictions agree with the "
        f"original on {chosen_row.agreement:.2%} of the evaluation rows; size {chosen_row.size_bytes} vs "
        f"{original_row.size_bytes} bytes. Not promoted: alias '{ALIAS}'."
    )
    content = card_lib.build_content(
        name=model_name,
        version=version,
        record=record,
        spec={**spec, "estimator": f"{spec.get('estimator') or 'model'} ({chosen_row.name})"},
        footprint=footprint,
        metric=metric,
        higher_is_better=higher_is_better,
        decision_reason=reason,
        description=f"{chosen_row.name} form of {model_name} model {original_digest[:16]}",
        owner="",
        intended_use="Serving the same predictions as the original at a lower cost (see the trade-off table).",
        risk_rating="Unknown",
        problem_type="",
        aliases=registry.aliases(store, model_name),
    )
    content["evaluation_details"].append(
        {
            "name": "original model",
            "evaluation_observation": f"The uncompressed model {original_digest} on the same evaluation data.",
            "metadata": {"eval_data_digest": eval_digest or "unknown", "metric": metric},
            "metric_groups": [
                {
                    "name": "original",
                    "metric_data": [{"name": metric, "type": "number", "value": float(original_row.metric or 0.0)}],
                }
            ],
        }
    )
    details = content["additional_information"]["custom_details"]
    details["compressed_from"] = original_digest
    details["compressed_form"] = chosen_row.name
    details["agreement_with_original"] = repr(float(chosen_row.agreement or 0.0))
    details["size_ratio"] = repr(chosen_row.size_bytes / max(original_row.size_bytes, 1))
    card_lib.check_content(content)
    co2 = card_lib.co2_eq_emissions(footprint, "pre-training")
    card_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(card_dir / "model_card.json", content)
    write_text_atomic(
        card_dir / "card.md",
        card_lib.render_markdown(content, co2, footprint) + "\n## Compression trade-offs\n\n" + table_md,
    )
    registry.set_card(store, model_name, version, json.loads(json.dumps(content)), ctx.exec_id)
    return version

"""The model card: SageMaker Model Card content JSON, a Hugging Face `co2_eq_emissions` block, Markdown and HTML.

Content follows the SageMaker model card JSON schema (model_overview, intended_uses, training_details,
evaluation_details, additional_information). Limits checked by `check_content` are the documented ones:
custom_details keys match [a-zA-Z_][a-zA-Z0-9_]* and values are strings of at most 1024 characters; text
fields 1024 or 2048 characters; at most 15 model artifacts and training datasets, 10 evaluation datasets;
risk_rating one of High, Medium, Low, Unknown; objective function Maximize or Minimize.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from greenpipe.components.contracts.metrics import METRICS
from greenpipe.components.register.errors import RegistryError

RISK_RATINGS = ("High", "Medium", "Low", "Unknown")
CUSTOM_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_TEXT_LIMITS = {
    ("model_overview", "model_description"): 1024,
    ("model_overview", "model_creator"): 1024,
    ("model_overview", "model_owner"): 1024,
    ("model_overview", "algorithm_type"): 1024,
    ("intended_uses", "purpose_of_model"): 2048,
    ("intended_uses", "intended_uses"): 2048,
    ("intended_uses", "explanations_for_risk_rating"): 2048,
    ("training_details", "training_observations"): 1024,
    ("additional_information", "caveats_and_recommendations"): 2048,
    ("additional_information", "ethical_considerations"): 2048,
}


def build_content(
    *,
    name: str,
    version: int,
    record: dict[str, Any],
    spec: dict[str, Any],
    footprint: dict,
    metric: str,
    higher_is_better: bool,
    decision_reason: str,
    description: str,
    owner: str,
    intended_use: str,
    risk_rating: str,
    problem_type: str,
    aliases: dict[str, int],
) -> dict:
    """SageMaker Model Card content for one registered version. Deterministic: no clock, no random ids."""
    metrics = record["metrics"]
    data = record["data_digests"]
    overview: dict[str, Any] = {
        "model_name": name,
        "model_version": version,
        "model_description": _cap(description or f"{spec.get('estimator') or 'model'} registered by greenpipe", 1024),
        "model_artifact": [record["model_digest"]],
        "algorithm_type": _cap(str(spec.get("estimator") or "unknown"), 1024),
    }
    if owner:
        overview["model_owner"] = overview["model_creator"] = _cap(owner, 1024)
    if problem_type:
        overview["problem_type"] = problem_type
    objective: dict[str, Any] = {"function": "Maximize" if higher_is_better else "Minimize"}
    facet = METRICS[metric].card_facet if metric in METRICS else None
    if facet:
        objective["facet"] = facet
    params = spec.get("params") or {}
    job: dict[str, Any] = {
        "training_datasets": sorted(set(data.values()))[:15],
        "user_provided_hyper_parameters": [
            {"name": str(k)[:255], "value": _cap(json.dumps(v, default=str), 255)} for k, v in sorted(params.items())
        ],
    }
    evaluation: dict[str, Any] = {
        "name": "greenpipe evaluation",
        "evaluation_observation": _cap(decision_reason, 2096),
        "metadata": {"eval_data_digest": record["eval_digest"] or "unknown", "metric": metric},
        "metric_groups": [
            {
                "name": "metrics",
                "metric_data": [{"name": k, "type": "number", "value": float(v)} for k, v in sorted(metrics.items())],
            }
        ],
    }
    if record["eval_digest"]:
        evaluation["datasets"] = [record["eval_digest"]]
    return {
        "model_overview": overview,
        "intended_uses": {
            "purpose_of_model": _cap(description or intended_use or "not stated", 2048),
            "intended_uses": _cap(intended_use or "not stated by the registrant", 2048),
            "risk_rating": risk_rating,
        },
        "training_details": {
            "objective_function": objective,
            "training_observations": _cap(
                f"Lineage of {len(footprint['executions'])} measured executions in {len(footprint['runs'])} "
                f"run(s) spent {footprint['energy_kwh']:.6g} kWh and {footprint['co2e_g']:.6g} gCO2e; "
                f"they avoided {footprint['avoided_kwh']:.6g} kWh.",
                1024,
            ),
            "training_job_details": job,
        },
        "evaluation_details": [evaluation],
        "additional_information": {
            "caveats_and_recommendations": _cap(
                "Footprint figures are the greenpipe ledger's measurements of the executions upstream of this "
                "model and its metrics (energy method: " + ", ".join(footprint["energy_methods"]) + "). "
                "Scores are valid for the evaluation data named by its digest.",
                2048,
            ),
            "custom_details": custom_details(name, version, record, footprint, aliases),
        },
    }


def custom_details(
    name: str, version: int, record: dict[str, Any], fp: dict[str, Any], aliases: dict[str, int]
) -> dict[str, str]:
    """The footprint and lineage as SageMaker custom_details: string values, exact float reprs."""
    details = {
        "footprint_energy_kwh": repr(float(fp["energy_kwh"])),
        "footprint_co2e_g": repr(float(fp["co2e_g"])),
        "footprint_avoided_energy_kwh": repr(float(fp["avoided_kwh"])),
        "footprint_avoided_co2e_g": repr(float(fp["avoided_co2e_g"])),
        "footprint_avoided_by_kind": json.dumps(fp["avoided_by_kind"], sort_keys=True),
        "footprint_cpu_s": repr(float(fp["cpu_s"])),
        "footprint_executions": str(len(fp["executions"])),
        "footprint_source": "greenpipe ledger: sum over every ran execution upstream of the model and its metrics",
        "footprint_energy_methods": ", ".join(fp["energy_methods"]),
        "footprint_grid_regions": "; ".join(fp["regions"]),
        "footprint_intensity_sources": "; ".join(fp["intensity_sources"]),
        "lineage_runs": ", ".join(fp["runs"]),
        "lineage_tasks": ", ".join(e["task"] for e in fp["executions"]),
        "model_digest": record["model_digest"],
        "eval_data_digest": record["eval_digest"] or "unknown",
        "baseline_digest": record["baseline_digest"] or "none",
        "registry_entry": f"{name}:{version}",
        "registry_aliases": ", ".join(f"{k}=v{v}" for k, v in sorted(aliases.items())),
        "approval_status": record["approval"],
    }
    return {k: _cap(v, 1024) for k, v in details.items()}


def co2_eq_emissions(fp: dict[str, Any], training_type: str) -> dict[str, Any]:
    """Hugging Face model-card metadata block (emissions in grams of CO2e)."""
    return {
        "emissions": float(fp["co2e_g"]),
        "source": "greenpipe ledger ("
        + ", ".join(fp["energy_methods"])
        + "; grid intensity: "
        + "; ".join(fp["intensity_sources"])
        + ")",
        "training_type": training_type,
        "geographical_location": "; ".join(fp["regions"]) or "unknown",
        "hardware_used": "CPU on " + (", ".join(fp["hosts"]) or "unknown host") + " (no GPU recorded)",
    }


def check_content(content: dict[str, Any]) -> None:
    """Raise if the content breaks a documented SageMaker model card limit (see the module docstring)."""
    problems: list[str] = []
    allowed = {
        "model_overview",
        "intended_uses",
        "business_details",
        "training_details",
        "evaluation_details",
        "additional_information",
        "model_package_details",
    }
    problems += [f"unknown section {k!r}" for k in content if k not in allowed]
    for (section, key), limit in _TEXT_LIMITS.items():
        value = content.get(section, {}).get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            problems.append(f"{section}.{key} must be a string of at most {limit} characters")
    overview = content.get("model_overview", {})
    if len(overview.get("model_artifact", [])) > 15:
        problems.append("model_overview.model_artifact has more than 15 entries")
    risk = content.get("intended_uses", {}).get("risk_rating")
    if risk is not None and risk not in RISK_RATINGS:
        problems.append(f"intended_uses.risk_rating={risk!r} is not one of {RISK_RATINGS}")
    function = content.get("training_details", {}).get("objective_function", {}).get("function")
    if function not in (None, "Maximize", "Minimize"):
        problems.append(f"objective_function.function={function!r} must be Maximize or Minimize")
    job = content.get("training_details", {}).get("training_job_details", {})
    if len(job.get("training_datasets", [])) > 15:
        problems.append("training_job_details.training_datasets has more than 15 entries")
    for item in content.get("evaluation_details", []):
        if not 1 <= len(item.get("name", "")) <= 63:
            problems.append("evaluation_details[].name must be 1-63 characters")
        if len(item.get("datasets", [])) > 10:
            problems.append("evaluation_details[].datasets has more than 10 entries")
    for key, value in content.get("additional_information", {}).get("custom_details", {}).items():
        if not CUSTOM_KEY.match(key):
            problems.append(f"custom_details key {key!r} must match {CUSTOM_KEY.pattern}")
        if not isinstance(value, str) or len(value) > 1024:
            problems.append(f"custom_details[{key!r}] must be a string of at most 1024 characters")
    if problems:
        raise RegistryError("model card content breaks the SageMaker model card schema: " + "; ".join(problems))


def render_markdown(content: dict[str, Any], co2: dict[str, Any], footprint: dict[str, Any]) -> str:
    """A Hugging Face-style card: YAML metadata with co2_eq_emissions, then readable sections."""
    ov, uses = content["model_overview"], content["intended_uses"]
    lines = ["---", "co2_eq_emissions:"]
    lines += [f"  {k}: {json.dumps(v)}" for k, v in co2.items()]
    lines += [
        "---",
        "",
        f"# {ov['model_name']} v{ov['model_version']}",
        "",
        ov["model_description"],
        "",
        "## Intended use",
        "",
        uses["intended_uses"],
        "",
        f"Risk rating: {uses['risk_rating']}",
        "",
        "## Evaluation",
        "",
    ]
    for ev in content["evaluation_details"]:
        lines += [f"Evaluation data: `{ev['metadata']['eval_data_digest']}`", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {m['name']} | {m['value']:.6g} |" for g in ev["metric_groups"] for m in g["metric_data"]]
        lines += ["", ev["evaluation_observation"], ""]
    lines += [
        "## Footprint (measured)",
        "",
        f"Energy {footprint['energy_kwh']:.6g} kWh, {footprint['co2e_g']:.6g} gCO2e spent; "
        f"{footprint['avoided_kwh']:.6g} kWh avoided.",
        "",
        "| task | run | energy (kWh) | CO2e (g) | CPU (s) | avoided (kWh) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {e['task']} | {e['run_id']} | {e['energy_kwh']:.6g} | {e['co2e_g']:.6g} | {e['cpu_s']:.3f} | "
        f"{e['avoided_kwh']:.6g} |"
        for e in footprint["executions"]
    ]
    lines += ["", "## Registry", ""]
    lines += [
        f"- {k}: `{v}`"
        for k, v in content["additional_information"]["custom_details"].items()
        if not k.startswith("footprint_")
    ]
    return "\n".join(lines) + "\n"


def render_html(content: dict[str, Any], co2: dict[str, Any], footprint: dict[str, Any]) -> str:
    """The same card as a self-contained HTML page (every value escaped)."""
    e = html.escape
    ov, uses = content["model_overview"], content["intended_uses"]
    metric_rows = "".join(
        f"<tr><td>{e(m['name'])}</td><td>{m['value']:.6g}</td></tr>"
        for ev in content["evaluation_details"]
        for g in ev["metric_groups"]
        for m in g["metric_data"]
    )
    exec_rows = "".join(
        f"<tr><td>{e(x['task'])}</td><td>{e(x['run_id'])}</td><td>{x['energy_kwh']:.6g}</td>"
        f"<td>{x['co2e_g']:.6g}</td><td>{x['cpu_s']:.3f}</td><td>{x['avoided_kwh']:.6g}</td></tr>"
        for x in footprint["executions"]
    )
    details = "".join(
        f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>"
        for k, v in content["additional_information"]["custom_details"].items()
    )
    co2_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in co2.items())
    observations = "".join(f"<p>{e(ev['evaluation_observation'])}</p>" for ev in content["evaluation_details"])
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{e(ov['model_name'])} v{ov['model_version']}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}</style></head><body>"
        f"<h1>{e(ov['model_name'])} v{ov['model_version']}</h1><p>{e(ov['model_description'])}</p>"
        f"<h2>Intended use</h2><p>{e(uses['intended_uses'])}</p><p>Risk rating: {e(uses['risk_rating'])}</p>"
        f"<h2>Evaluation</h2><table><tr><th>metric</th><th>value</th></tr>{metric_rows}</table>{observations}"
        f"<h2>Footprint (measured)</h2><table>{co2_rows}</table>"
        "<table><tr><th>task</th><th>run</th><th>energy (kWh)</th><th>CO2e (g)</th><th>CPU (s)</th>"
        f"<th>avoided (kWh)</th></tr>{exec_rows}</table>"
        f"<h2>Details</h2><table>{details}</table></body></html>\n"
    )


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""The platform catalog: for every component step, its KFP component YAML and SageMaker step template, plus one
catalog.json and a Backstage catalog-info.yaml (name, description, inputs, outputs, params, version, owner, docs)."""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
import shutil
import warnings
from pathlib import Path
from typing import Any

from greenpipe import __version__
from greenpipe.artifacts import write_text_atomic
from greenpipe.step import Step

OWNER = "greenpipe"
DOCS = "https://github.com/greenpipe/greenpipe/blob/v{version}/components/{component}/README.md"


def component_steps() -> list[tuple[str, Step]]:
    """(component folder, step) for every step each component lists in its STEPS, in a stable order."""
    package = importlib.import_module("greenpipe.components")
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"greenpipe.components.{info.name}")
        for step in getattr(module, "STEPS", []):
            found.append((info.name, step))
    return found


def source_fingerprint(step: Step) -> str:
    """The code fingerprint without third-party versions: it changes when greenpipe's own code changes."""
    parts = {k: v for k, v in step.fingerprint().parts.items() if not k.startswith("pkg:") and k != "python"}
    blob = "\n".join(f"{k}={v}" for k, v in sorted(parts.items()))
    return "src:" + hashlib.sha256(blob.encode()).hexdigest()[:32]


def write_catalog(out: str | Path, image: str | None = None) -> list[dict[str, Any]]:
    """Write the catalog into `out` (replacing what a previous catalog wrote there); return its entries."""
    from greenpipe.backends.kfp import component_yaml
    from greenpipe.backends.sagemaker import step_template

    root = Path(out)
    for sub in ("kfp", "sagemaker"):
        shutil.rmtree(root / sub, ignore_errors=True)
        (root / sub).mkdir(parents=True, exist_ok=True)
    entries = []
    for component, step in component_steps():
        spec = step.spec.to_dict()
        kfp_file = f"kfp/{step.name}.yaml"
        sm_file = f"sagemaker/{step.name}.json"
        component_yaml(step, str(root / kfp_file), image=image)
        with warnings.catch_warnings(record=True) as caught:  # e.g. a tuning search only known at run time
            warnings.simplefilter("always")
            template = step_template(step, image=image)
        write_text_atomic(root / sm_file, json.dumps(template, indent=2, sort_keys=True) + "\n")
        entries.append(
            {
                "name": step.name,
                "component": component,
                "description": spec["description"],
                "ref": spec["ref"],
                "runtime": spec["runtime"],
                "inputs": spec["inputs"],
                "outputs": spec["outputs"],
                "values": spec["values"],
                "params": spec["params"],
                "resources": spec["resources"],
                "cache": spec["cache"],
                "version": __version__,
                "owner": OWNER,
                "docs": DOCS.format(version=__version__, component=component),
                "source_fingerprint": source_fingerprint(step),
                "kfp_component": kfp_file,
                "sagemaker_template": sm_file,
                "sagemaker_notes": [str(w.message) for w in caught],
            }
        )
    document = {"catalog": "greenpipe", "version": __version__, "owner": OWNER, "steps": entries}
    write_text_atomic(root / "catalog.json", json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    write_text_atomic(root / "catalog-info.yaml", backstage_yaml(entries))
    return entries


def backstage_yaml(entries: list[dict[str, Any]]) -> str:
    """Backstage descriptors, one Component per step (JSON strings are valid YAML scalars)."""
    docs = []
    for e in entries:
        lines = [
            "apiVersion: backstage.io/v1alpha1",
            "kind: Component",
            "metadata:",
            f"  name: {json.dumps('greenpipe-' + e['name'].replace('_', '-'))}",
            f"  title: {json.dumps(e['name'])}",
            f"  description: {json.dumps(e['description'])}",
            '  tags: ["mlops", "sustainability", ' + json.dumps(e["runtime"]) + "]",
            "  annotations:",
            f"    greenpipe.dev/ref: {json.dumps(e['ref'])}",
            f"    greenpipe.dev/version: {json.dumps(e['version'])}",
            f"    greenpipe.dev/kfp-component: {json.dumps(e['kfp_component'])}",
            f"    greenpipe.dev/sagemaker-template: {json.dumps(e['sagemaker_template'])}",
            "  links:",
            f"    - url: {json.dumps(e['docs'])}",
            '      title: "README"',
            "spec:",
            "  type: pipeline-step",
            "  lifecycle: experimental",
            f"  owner: {json.dumps(e['owner'])}",
            "  system: greenpipe",
        ]
        docs.append("\n".join(lines))
    return "---\n" + "\n---\n".join(docs) + "\n"

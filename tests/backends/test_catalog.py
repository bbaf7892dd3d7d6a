"""The catalog in the repo (catalog/) is what `greenpipe catalog` writes from the current code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("kfp")
yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[2]
# The full code fingerprint also counts third-party versions, which differ between machines; the catalog's
# source_fingerprint (greenpipe's own code only) is compared exactly instead.
FULL_FINGERPRINT = re.compile(r"fp:[0-9a-f]{32}")


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): FULL_FINGERPRINT.sub("fp:*", p.read_text())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_catalog_in_the_repo_is_up_to_date(tmp_path, monkeypatch):
    from greenpipe.backends.catalog import write_catalog

    monkeypatch.delenv("GREENPIPE_IMAGE", raising=False)
    write_catalog(tmp_path)
    fresh, committed = _files(tmp_path), _files(REPO / "catalog")
    stale = sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))
    assert not stale, f"catalog/ is out of date in {stale}: run `greenpipe catalog --out catalog` and commit it"


def test_catalog_lists_every_component_step_with_its_interface(tmp_path):
    from greenpipe.backends.catalog import component_steps, write_catalog

    entries = write_catalog(tmp_path)
    names = {e["name"] for e in entries}
    assert names == {step.name for _, step in component_steps()}
    assert {"feature_dedup", "small_sample", "spot_train", "drift_gate", "register"} <= names
    document = json.loads((tmp_path / "catalog.json").read_text())
    drift = next(e for e in document["steps"] if e["name"] == "drift_gate")
    assert drift["owner"] and drift["version"] and drift["docs"].endswith("components/drift_gate/README.md")
    assert drift["inputs"] and drift["outputs"] and drift["params"]
    backstage = list(yaml.safe_load_all((tmp_path / "catalog-info.yaml").read_text()))
    assert len(backstage) == len(entries) and all(d["kind"] == "Component" for d in backstage)
    from kfp.components import load_component_from_file

    for entry in entries:
        assert load_component_from_file(str(tmp_path / entry["kfp_component"])).name
        template = json.loads((tmp_path / entry["sagemaker_template"]).read_text())
        assert template["operation"].startswith("Create")

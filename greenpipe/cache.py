"""The cache: key = code fingerprint + greenpipe version + canonical params + input content digests.

A hit is trusted only after every output it recorded still exists and matches its digest; a miss is explained
(first run, code changed in `pkg.mod.fn`, param `lr` 0.1 -> 0.2, input `train` changed, expired, output missing).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from greenpipe.fingerprint import Fingerprint
from greenpipe.params import canonical_json
from greenpipe.step import CachePolicy
from greenpipe.store import Store


@dataclass(frozen=True)
class KeyParts:
    fingerprint: Fingerprint
    version: str
    params: dict[str, Any]
    inputs: dict[str, str]  # input name -> content digest

    @property
    def key(self) -> str:
        blob = canonical_json(
            {
                "code": self.fingerprint.digest,
                "version": self.version,
                "params": self.params,
                "inputs": self.inputs,
            }
        )
        return "ck:" + hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Hit:
    exec_id: str
    outputs: dict[str, str]
    values: dict[str, Any]
    energy_kwh: float


@dataclass(frozen=True)
class Lookup:
    hit: Hit | None
    reason: str | None  # why a stored entry could not be used


def lookup(store: Store, key: str, policy: CachePolicy, now: float | None = None, rehash: bool = False) -> Lookup:
    """Find a usable cache entry for `key`, verifying its outputs.

    Each output must exist and match its digest. A file output whose stat (size, mtime, ctime, inode) is what
    it was when last hashed is trusted without re-reading it (one `stat`); folders are always re-read; with
    `rehash` every byte is read again.
    """
    row = store.cache_entry(key)
    if row is None:
        return Lookup(None, None)
    expiry = policy.expire_after_s
    if expiry is not None and (now or time.time()) - row["created"] > expiry:
        return Lookup(None, f"cache expired (older than {policy.expire_after})")
    outputs = store.outputs_of(row["exec_id"])
    for name, digest in sorted(outputs.items()):
        path = store.object_path(digest)
        if not path.exists():
            return Lookup(None, f"output '{name}' missing from the store")
        if store.digest_of(path, rehash=rehash) != digest:
            return Lookup(None, f"output '{name}' corrupt (content no longer matches its digest)")
    return Lookup(Hit(row["exec_id"], outputs, json.loads(row["vals"] or "{}"), float(row["energy_kwh"])), None)


def previous_execution(store: Store, pipeline: str, task: str, step_ref: str) -> sqlite3.Row | None:
    """The latest finished execution of this task in this pipeline, else of the same step anywhere."""
    finished = ("ran", "cached")
    return store.latest_execution_of_task(pipeline, task, finished) or store.latest_execution_of_step(
        step_ref, finished
    )


def explain_miss(previous: sqlite3.Row | None, parts: KeyParts) -> str:
    """Why this key differs from the previous execution's, in the words `greenpipe plan` prints."""
    if previous is None:
        return "first run"
    reasons: list[str] = []
    old_fp = json.loads(previous["fingerprint"] or "{}")
    changed = parts.fingerprint.changed_since(old_fp)
    if changed:
        shown = ", ".join(_readable(n) for n in changed[:3]) + (
            f" (+{len(changed) - 3} more)" if len(changed) > 3 else ""
        )
        reasons.append(f"code changed in {shown}")
    if previous["version"] != parts.version:
        reasons.append(f"greenpipe version {previous['version']} -> {parts.version}")
    old_params = json.loads(previous["params"] or "{}")
    for name in sorted(set(old_params) | set(parts.params)):
        if canonical_json(old_params.get(name)) != canonical_json(parts.params.get(name)):
            reasons.append(f"param {name} {old_params.get(name)!r} -> {parts.params.get(name)!r}")
    old_inputs = json.loads(previous["inputs"] or "{}")
    for name in sorted(set(old_inputs) | set(parts.inputs)):
        if old_inputs.get(name) != parts.inputs.get(name):
            reasons.append(f"input '{name}' changed")
    return "; ".join(reasons) or "no cache entry for this key (was it removed by gc?)"


def _readable(part: str) -> str:
    if part.startswith("const:"):
        return "value " + part[len("const:") :]
    if part.startswith("pkg:"):
        return f"package {part[4:]} version"
    if part.startswith("module:"):
        return "module " + part[len("module:") :]
    return part

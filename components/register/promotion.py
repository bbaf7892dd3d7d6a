"""Champion/challenger: a candidate becomes champion only if it beats the champion on the same evaluation data.

"The same data" is decided by content digest. When the champion's recorded score was measured on other data,
the champion is re-scored on the candidate's evaluation data, after its stored artifact is verified against the
registry's digest. When that is impossible (no evaluation data given, champion artifact gone, metric not
computable), the candidate is not promoted and the reason says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import greenpipe.components.register.registry as registry
from greenpipe.components.contracts.model_folder import read_description
from greenpipe.components.register.errors import RegistryError
from greenpipe.components.register.scoring import score
from greenpipe.store import Store


@dataclass(frozen=True)
class Decision:
    promoted: bool
    champion_version: int  # after the decision; 0 when there is none
    reason: str
    champion_score: float | None = None
    candidate_score: float | None = None


def beats(candidate: float, champion: float, higher_is_better: bool, margin: float) -> bool:
    """True when the candidate is better by at least `margin` (and strictly better when margin is 0)."""
    gain = (candidate - champion) if higher_is_better else (champion - candidate)
    return gain > 0 and gain >= margin


def decide(
    store: Store,
    *,
    name: str,
    version: int,
    metric: str,
    higher_is_better: bool,
    margin: float,
    candidate_score: float,
    eval_digest: str,
    eval_path: str | None,
    exec_id: str | None,
) -> Decision:
    """Compare `version` with the current champion and move the aliases; return what happened and why."""
    registry.set_alias(store, name, "candidate", version, f"{metric}={candidate_score!r} on {eval_digest or '?'}")
    champion = registry.version_by_alias(store, name, "champion")
    if champion is None:
        return _promote(store, name, version, f"no champion yet; v{version} becomes champion", None, candidate_score)
    if champion.version == version:
        return Decision(False, version, f"v{version} is already the champion", candidate_score, candidate_score)
    if not eval_digest:
        return _keep(
            store,
            name,
            version,
            champion.version,
            "no eval_data given, so the candidate cannot be compared with the champion on the same "
            "data; pass the evaluation Dataset as eval_data",
            None,
            candidate_score,
        )
    champ_score = registry.score_on(store, name, champion.version, eval_digest, metric)
    note = ""
    if champ_score is None:
        note = (
            f"champion v{champion.version} was evaluated on other data ({champion.eval_digest or 'unknown'}), "
            f"not on {eval_digest}; "
        )
        champ_score, why_not = _rescore(store, name, champion, metric, eval_digest, eval_path, exec_id)
        if champ_score is None:
            return _keep(store, name, version, champion.version, note + why_not, None, candidate_score)
        note += f"re-evaluated it on this data: {metric}={champ_score:.6g}; "
    verdict = (
        f"{note}candidate v{version} {metric}={candidate_score:.6g} vs champion v{champion.version} "
        f"{metric}={champ_score:.6g} ({'higher' if higher_is_better else 'lower'} is better, "
        f"margin {margin:g})"
    )
    if beats(candidate_score, champ_score, higher_is_better, margin):
        return _promote(store, name, version, verdict + ": promoted", champ_score, candidate_score)
    return _keep(store, name, version, champion.version, verdict + ": not promoted", champ_score, candidate_score)


def _rescore(
    store: Store,
    name: str,
    champion: registry.ModelVersion,
    metric: str,
    eval_digest: str,
    eval_path: str | None,
    exec_id: str | None,
) -> tuple[float | None, str]:
    path = store.object_path(champion.model_digest)
    if eval_path is None or not path.exists():
        return None, (
            f"its artifact {champion.model_digest} is no longer in the store, so it cannot be "
            "re-evaluated; not promoted"
        )
    estimator = registry.load_verified(path, champion.model_digest, f"{name} v{champion.version}")
    try:
        value = score(estimator, read_description(path), eval_path, metric)
    except RegistryError as exc:
        return None, f"it could not be re-evaluated ({exc}); not promoted"
    registry.record_evaluation(
        store,
        name,
        champion.version,
        eval_digest,
        metric,
        value,
        f"re-evaluated by register exec:{exec_id}" if exec_id else "re-evaluated by register",
    )
    return value, ""


def _promote(store: Store, name: str, version: int, reason: str, champ: float | None, cand: float) -> Decision:
    registry.set_alias(store, name, "champion", version, reason)
    registry.set_approval(store, name, version, "Approved", reason)
    return Decision(True, version, reason, champ, cand)


def _keep(
    store: Store, name: str, version: int, champion_version: int, reason: str, champ: float | None, cand: float
) -> Decision:
    registry.add_event(store, name, version, "not_promoted", reason)
    return Decision(False, champion_version, reason, champ, cand)

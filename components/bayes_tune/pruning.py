"""Pruners: which trials to stop part-way, picked by name. The default never stops a slow starter on a hunch.

A median or successive-halving pruner ranks trials by their value at a low rung, so a configuration that learns
slowly (a gradient-boosted model with a low learning rate after 22 of 200 rounds) looks bad and is stopped, even
when it would have been the best at full budget: on a real boosting problem that made tuning cost more than random
search. `HopelessPruner` stops a trial only when it cannot reach the best completed value even if it gained, from
this rung to the end, `margin` times the largest gain any completed trial made over the same stretch.
"""

from __future__ import annotations

from typing import Any

from greenpipe.errors import GreenpipeError

PRUNERS = ("hopeless", "median", "successive_halving", "hyperband", "none")
PRIOR = "transfer_prior"  # trials copied from a study on other data: their values do not hold here


class HopelessPruner:
    """Stop a trial whose value plus margin x the largest late gain seen cannot reach the best completed value.

    Args:
        min_complete: completed trials needed before anything is pruned (the evidence of how much trials gain).
        margin: how much more than the largest gain seen a trial may still gain.
    """

    def __init__(self, min_complete: int = 3, margin: float = 1.5):
        self.min_complete = min_complete
        self.margin = margin

    def prune(self, study: Any, trial: Any) -> bool:
        from optuna.study import StudyDirection
        from optuna.trial import TrialState

        step = trial.last_step
        if step is None:
            return False
        sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        finals, gains = [], []
        for done in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if done.user_attrs.get("origin") == PRIOR or done.value is None:
                continue
            finals.append(sign * done.value)
            if step in done.intermediate_values:
                gains.append(sign * (done.value - done.intermediate_values[step]))
        if len(gains) < self.min_complete:
            return False
        now = sign * trial.intermediate_values[step]
        return now + self.margin * max(0.0, *gains) < max(finals)


def make_pruner(name: str, steps: list[int]) -> Any:
    """The pruner called `name`; `steps` are the rung steps a trial reports at (1, 3, 9 for rungs 1/9, 1/3, 1)."""
    import optuna

    if name not in PRUNERS:
        raise GreenpipeError(f"pruner={name!r} must be one of {', '.join(PRUNERS)}")
    if name == "hopeless":
        return HopelessPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=steps[0], max_resource=steps[-1], reduction_factor=3)
    return optuna.pruners.NopPruner()

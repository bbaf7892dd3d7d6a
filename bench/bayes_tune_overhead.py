"""bayes_tune's own cost per trial against plain Optuna TPE, on an objective that costs nothing.

The tuning bench counts the tuner's own CPU seconds inside its compute, and several of its problems have trials of
tens of ms (bananas_svc ~27 ms, rainfall_rf ~70 ms): there a tuner's overhead per trial is a share of the figure.
This bench isolates it: 100 trials on bench/bayes_tune_problems.py's 5-parameter gradient-boosting space, whose
objective is a closed-form function of the params (no fit), one job at a time, best of 3 repeats per tuner:
- Optuna TPE with its defaults (in Optuna 5: one joint density for one objective, 10 random startup trials),
  in-memory storage: the baseline;
- bayes_tune's tuning loop (tuning.run_trials, its defaults) on in-memory storage, as the tuning bench runs it;
- the same on the JournalStorage file the step keeps its studies in.

Run from the repo root: nice -n 5 .venv/bin/python bench/bayes_tune_overhead.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bayes_tune_problems import HGB_SPACE  # noqa: E402
from results_file import figure, write_results  # noqa: E402

from greenpipe.components.bayes_tune.search_space import SearchSpace  # noqa: E402

COMMAND = "nice -n 5 .venv/bin/python bench/bayes_tune_overhead.py"
TRIALS = 100
REPEATS = 3
SPACE = SearchSpace.from_dict(HGB_SPACE)


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def free_objective(params: dict[str, Any]) -> float:
    """A smooth function of the params with one optimum: the sampler has something to model, nothing to fit."""
    return -abs(params["learning_rate"] - 0.1) - abs(params["max_features"] - 0.5) - abs(params["max_leaf_nodes"] - 31)


class FreeTrials:
    """The Trials protocol run_trials drives: one full-budget rung that costs nothing."""

    levels = [1.0]

    def costs(self) -> list[float]:
        return [1.0]

    def run(self, params: dict[str, Any]) -> Iterator[tuple[float, float, float]]:
        yield 1.0, 1.0, free_objective(params)


def plain_tpe() -> None:
    import optuna

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(lambda trial: free_objective(SPACE.suggest(trial)), n_trials=TRIALS)


def bayes_tune(storage_folder: str | None) -> None:
    from greenpipe.components.bayes_tune.tuning import TuneSettings, open_study, run_trials, storage_at

    settings = TuneSettings(SPACE, "maximize", max_trials=TRIALS, seed=0)
    storage = storage_at(storage_folder) if storage_folder else None
    study = open_study(storage, "overhead", settings, {})
    run_trials(study, FreeTrials(), settings)


def ms_per_trial(play: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        start = cpu()
        play()
        best = min(best, cpu() - start)
    return 1000 * best / TRIALS


def in_journal() -> None:
    with tempfile.TemporaryDirectory() as folder:
        bayes_tune(folder)


def main() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    plain_tpe(), bayes_tune(None)  # imports and first-call costs paid before anything is timed
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    tpe = ms_per_trial(plain_tpe)
    memory = ms_per_trial(lambda: bayes_tune(None))
    journal = ms_per_trial(in_journal)
    print(f"CPU ms per trial: Optuna TPE {tpe:.2f}, bayes_tune in memory {memory:.2f}, in its journal {journal:.2f}")
    about = f"{TRIALS} trials of a closed-form objective on a 5-parameter space, best of {REPEATS}"
    write_results(
        "bayes_tune_overhead",
        COMMAND,
        [
            figure("tune_overhead_tpe_ms_per_trial", round(tpe, 2), "ms", None, "lower", f"none ({about})"),
            figure(
                "tune_overhead_ms_per_trial",
                round(memory, 2),
                "ms",
                None,
                "lower",
                f"Optuna TPE with its defaults {tpe:.2f} ms per trial; bayes_tune in memory ({about})",
            ),
            figure(
                "tune_overhead_journal_ms_per_trial",
                round(journal, 2),
                "ms",
                None,
                "lower",
                f"the same loop on the step's JournalStorage file ({about})",
            ),
        ],
    )


if __name__ == "__main__":
    main()

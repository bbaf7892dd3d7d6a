"""bayes_tune and plain Optuna TPE run back to back, seed by seed, in one process: CPU per trial under one load.

bench/bayes_tune.py reuses each anchor's cached runs until the anchor's code changes, so its Optuna TPE column
may have been measured hours before bayes_tune's, under another load; on a shared machine a trial's CPU seconds
move with the load (cache and core contention), and the CPU ratio between the two columns carries that. Here
each seed runs Optuna TPE (its defaults) and then bayes_tune (its defaults) with the bench's harness, target and
budget, nothing cached, so both spend their CPU under the same load; the trial-equivalents they need are those
of the bench (both tuners are deterministic given the seed).

With `--same-stream` bayes_tune's per-trial reseed is switched off and its TPE models the params jointly, as
Optuna 5's TPESampler does by default for one objective (`multivariate=None` means True there), so it draws
Optuna TPE's trials (same sampler, seed and startup): what is left between the two is bayes_tune's own cost per
trial on real fits.

Run from the repo root: nice -n 5 .venv/bin/python bench/bayes_tune_paired.py [--problems digits_mlp,flights_sgd]
[--same-stream]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bayes_tune_harness import SEEDS, cpu, play_to_target, problem_named, warm_imports  # noqa: E402
from bayes_tune_tuners import Variant, play_bayes_tune, play_optuna  # noqa: E402
from results_file import figure, write_results  # noqa: E402

COMMAND = "nice -n 5 .venv/bin/python bench/bayes_tune_paired.py"
DEFAULT_PROBLEMS = "digits_mlp,flights_sgd"  # the two tuning problems whose CPU columns differ most from TPE's


def measured(problem: Any, play: Any, seed: int) -> tuple[float, float]:
    """(CPU seconds spent, trial-equivalents spent) of one uncached run until the target or the budget."""
    meter = play_to_target(problem, play, seed, "none", 1.0)  # one full-budget fit per trial
    return cpu() - meter.start, meter.spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default=DEFAULT_PROBLEMS)
    parser.add_argument("--same-stream", action="store_true", help="switch off bayes_tune's per-trial reseed")
    args = parser.parse_args()
    if args.same_stream:
        from greenpipe.components.bayes_tune import tuning

        tuning.reseed_for_next_trial = lambda study, settings: None  # type: ignore[assignment]
    suffix = "_same_stream" if args.same_stream else ""
    variant = Variant(multivariate="true") if args.same_stream else Variant()
    warm_imports()
    figures = []
    for name in args.problems.split(","):
        problem = problem_named(name)
        spent = {"tpe": [0.0, 0.0], "bayes_tune": [0.0, 0.0]}
        for seed in SEEDS:
            plays = {
                "tpe": lambda m, s, sd, p=problem: play_optuna(m, p, s, sd, hyperband=False),
                "bayes_tune": lambda m, s, sd, p=problem: play_bayes_tune(m, p, s, sd, variant),
            }
            for tuner, play in plays.items():
                cpu_s, trials = measured(problem, play, seed)
                spent[tuner][0] += cpu_s
                spent[tuner][1] += trials
                print(f"{name} seed {seed} {tuner:10s} {cpu_s:6.2f} CPU s, {trials:5.1f} trial-eq", flush=True)
        per_trial = {tuner: 1000 * c / t for tuner, (c, t) in spent.items()}
        print(
            f"{name}: CPU ms per trial-equivalent: Optuna TPE {per_trial['tpe']:.1f}, bayes_tune "
            f"{per_trial['bayes_tune']:.1f}; CPU to the target (5 seeds): {spent['tpe'][0]:.2f} s, "
            f"{spent['bayes_tune'][0]:.2f} s"
        )
        figures.append(
            figure(
                f"tune_paired_cpu_per_trial_{name}{suffix}",
                round(per_trial["bayes_tune"] / per_trial["tpe"], 3),
                "ratio",
                None,
                "lower",
                f"Optuna TPE's CPU ms per trial-equivalent on {name}, run seed by seed beside bayes_tune in one "
                f"process ({per_trial['tpe']:.1f} ms; bayes_tune {per_trial['bayes_tune']:.1f} ms)",
            )
        )
        figures.append(
            figure(
                f"tune_paired_vs_tpe_{name}{suffix}",
                round(spent["tpe"][0] / spent["bayes_tune"][0], 3),
                "ratio",
                None,
                "higher",
                f"Optuna TPE's CPU seconds to the target on {name} / bayes_tune's, summed over seeds 0-4, "
                "measured back to back under one load",
            )
        )
    write_results(f"bayes_tune_paired{suffix}", " ".join([COMMAND, *sys.argv[1:]]), figures)


if __name__ == "__main__":
    main()

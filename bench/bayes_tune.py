"""bayes_tune vs random search and the best tuners, side by side: CPU seconds to reach a near-best configuration.

Problems (bench/bayes_tune_problems.py): 6 real-data problems, each trial a real fit of a scikit-learn estimator
on a fixed held-out split (the same configuration always scores the same). Two are held out: bayes_tune's
defaults were chosen without looking at them.

Reference: 200 random full-budget trials per problem, computed once and cached in bench/.cache/bayes_tune/. The
target is the first full-budget trial within 0.1% of the pool's best. Random search's compute is its exact
expectation over the pool, drawing trials in random order: each of the N - h misses precedes all h hits with
probability 1 / (h + 1), so it expects sum(miss CPU) / (h + 1) + mean(hit CPU) CPU seconds, (N + 1) / (h + 1)
trials.

Tuners (same space, same rungs, same seeds 0-4, budget 25 trial-equivalents each):
- tpe: Optuna TPESampler with its defaults, full-budget trials;
- tpe_hyperband: the same with Optuna's HyperbandPruner over rungs 1/9, 1/3, 1 of the budget (boosting rounds or
  trees where growing continues one fit, else data fractions);
- syne_bohb: Syne Tune's BOHB (asynchronous successive halving + KDE), same rungs, one job at a time;
- bayes_tune: as it ships (TuneSettings defaults, fidelity "auto"), only max_trials set to the budget.
Compute = process CPU seconds from the tuner's start to the end of the first trial that reaches the target, the
tuner's own overhead included; a run that misses pays what it spent plus random search's expected compute.

Run from the repo root: nice -n 5 .venv/bin/python bench/bayes_tune.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per fit: CPU seconds are comparable between tuners

import datetime  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bayes_tune_problems import PROBLEMS, Problem, load  # noqa: E402
from results_file import figure, write_results  # noqa: E402

from greenpipe.components.bayes_tune.objective import Holdout, TrialRunner  # noqa: E402
from greenpipe.components.bayes_tune.search_space import SearchSpace  # noqa: E402
from greenpipe.components.bayes_tune.step import ITERATION_MIN_FRACTION  # noqa: E402
from greenpipe.components.bayes_tune.tuning import TuneSettings, open_study, run_trials  # noqa: E402

COMMAND = "nice -n 5 .venv/bin/python bench/bayes_tune.py"
POOL = 200
TOLERANCE = 0.001
BUDGET = 25.0  # trial-equivalents per tuning run
SEEDS = range(5)
TUNERS = ("tpe", "tpe_hyperband", "syne_bohb", "bayes_tune")
ANCHORS = ("tpe", "tpe_hyperband", "syne_bohb")
CACHE = Path(__file__).resolve().parent / ".cache" / "bayes_tune"
SOURCES = Path(__file__).resolve().parent.parent / "components" / "bayes_tune"


def cpu() -> float:
    t = os.times()
    return t.user + t.system


class Reached(Exception):
    """The target was reached: stop the tuner."""


class Meter:
    """Counts a tuning run's trial-equivalents and notes the CPU seconds when a full-budget trial hits the target."""

    def __init__(self, runner: TrialRunner, problem: Problem, target: float):
        self.runner, self.target, self.sign = runner, target, 1.0 if problem.direction == "maximize" else -1.0
        self.levels = runner.levels
        self.spent, self.trials, self.start = 0.0, 0, cpu()
        self.hit_cpu: float | None = None

    def rungs(self, params: dict[str, Any]):
        """Run a trial rung by rung (yields (rung index, value)); raises Reached when its last rung hits."""
        self.trials += 1
        for index, (level, cost, value) in enumerate(self.runner.run(params)):
            self.spent += cost
            if level >= 1 and self.sign * value >= self.sign * self.target:
                self.hit_cpu = cpu() - self.start
                raise Reached
            yield index, value

    @property
    def over(self) -> bool:
        return self.spent >= BUDGET


def pool(problem: Problem, holdout: Holdout, space: SearchSpace) -> dict[str, Any]:
    """200 random full-budget trials (values and CPU seconds), cached on disk by problem definition."""
    import sklearn

    key = hashlib.sha256(
        json.dumps(
            [
                problem.name,
                problem.about,
                problem.space,
                problem.metric,
                problem.family.budget_max,
                sklearn.__version__,
                POOL,
            ],
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()[:12]
    path = CACHE / f"{problem.name}-{key}.json"
    if path.is_file():
        return json.loads(path.read_text())
    import optuna

    study = optuna.create_study(direction=problem.direction, sampler=optuna.samplers.RandomSampler(seed=12345))
    runner = TrialRunner(problem.family, holdout, problem.metric, "none")
    values, cpus = [], []
    for _ in range(POOL):
        trial = study.ask()
        c0 = cpu()
        value = list(runner.run(space.suggest(trial)))[-1][2]
        cpus.append(cpu() - c0)
        study.tell(trial, value)
        values.append(value)
    data = {"values": values, "cpu_s": cpus, "measured": datetime.datetime.now(datetime.UTC).isoformat()}
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)
    return data


def run_optuna(meter: Meter, problem: Problem, space: SearchSpace, seed: int, hyperband: bool) -> None:
    import optuna

    steps = [round(level / meter.levels[0]) for level in meter.levels]
    pruner = (
        optuna.pruners.HyperbandPruner(min_resource=steps[0], max_resource=steps[-1], reduction_factor=3)
        if hyperband
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        direction=problem.direction, sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner
    )

    def objective(trial: Any) -> float:
        value = float("nan")
        for index, value in meter.rungs(space.suggest(trial)):
            trial.report(value, steps[index])
            if index < len(steps) - 1 and trial.should_prune():
                raise optuna.TrialPruned()
        return value

    while not meter.over:
        study.optimize(objective, n_trials=1)


def run_bohb(meter: Meter, problem: Problem, space: SearchSpace, seed: int) -> None:
    from syne_tune.backend.trial_status import Trial
    from syne_tune.optimizer.baselines import BOHB

    np.random.seed(seed)  # Syne Tune's ASHA draws brackets from numpy's global generator
    steps = [round(level / meter.levels[0]) for level in meter.levels]
    scheduler = BOHB(
        syne_space(space),
        metric="score",
        time_attr="step",
        max_t=steps[-1],
        do_minimize=problem.direction == "minimize",
        random_seed=seed,
        grace_period=steps[0],
        reduction_factor=3,
    )
    trial_id = 0
    while not meter.over:
        config = scheduler.suggest().config
        trial = Trial(trial_id=trial_id, config=config, creation_time=datetime.datetime.now())
        scheduler.on_trial_add(trial)
        params = {name: _plain(config[name]) for name in space.names}
        params.update({n: json.loads(params[n]) for n, p in space.to_dict().items() if p["type"] == "categorical"})
        result: dict[str, Any] = {}
        for index, value in meter.rungs(params):
            result = {"score": value, "step": steps[index]}
            if scheduler.on_trial_result(trial, result) == "STOP" and index < len(steps) - 1:
                break
        else:
            scheduler.on_trial_complete(trial, result)
        trial_id += 1


def syne_space(space: SearchSpace) -> dict[str, Any]:
    from syne_tune import config_space as cs

    out: dict[str, Any] = {}
    for name, spec in space.to_dict().items():
        if spec["type"] == "categorical":  # Syne Tune wants one type per choice: pass them as JSON text
            out[name] = cs.choice([json.dumps(v) for v in spec["values"]])
        elif spec["type"] == "int":
            out[name] = (cs.lograndint if spec["scaling"] == "Logarithmic" else cs.randint)(spec["low"], spec["high"])
        else:
            out[name] = (cs.loguniform if spec["scaling"] == "Logarithmic" else cs.uniform)(spec["low"], spec["high"])
    return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def run_bayes_tune(meter: Meter, problem: Problem, space: SearchSpace, seed: int) -> None:
    import optuna

    settings = TuneSettings(space, problem.direction, max_trials=int(BUDGET), seed=seed)  # all else as it ships

    class Trials:  # the Trials protocol run_trials drives, over the meter's rungs
        levels = meter.levels

        def costs(self) -> list[float]:
            return meter.runner.costs()

        def run(self, params: dict[str, Any]):
            for index, value in meter.rungs(params):
                yield meter.levels[index], 0.0, value

    def stop_over_budget(study: Any, _trial: Any) -> None:
        if meter.over:
            study.stop()

    study = open_study(None, f"{problem.name}-{seed}", settings, {})
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # open_study sets WARNING
    run_trials(study, Trials(), settings, callbacks=[stop_over_budget])


def fidelity(problem: Problem, tuner: str) -> str:
    if tuner == "tpe":
        return "none"
    if tuner == "bayes_tune":  # what the step's fidelity="auto" picks with no sample fraction
        return "iterations" if problem.family.budget_resumable else "none"
    return problem.multi_fidelity


def tune(problem: Problem, holdout: Holdout, space: SearchSpace, tuner: str, seed: int, target: float) -> dict:
    runner = TrialRunner(
        problem.family, holdout, problem.metric, fidelity(problem, tuner), ITERATION_MIN_FRACTION, seed
    )
    meter = Meter(runner, problem, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if tuner in ("tpe", "tpe_hyperband"):
                run_optuna(meter, problem, space, seed, hyperband=tuner == "tpe_hyperband")
            elif tuner == "syne_bohb":
                run_bohb(meter, problem, space, seed)
            else:
                run_bayes_tune(meter, problem, space, seed)
        except Reached:
            pass
    return {"cpu_s": meter.hit_cpu, "spent_cpu_s": cpu() - meter.start, "trial_eq": meter.spent, "trials": meter.trials}


def compute(run: dict, random_cpu: float, random_trials: float) -> tuple[float, float]:
    """(CPU seconds, trial-equivalents) to reach the target; a miss pays what it spent plus random's expectation."""
    if run["cpu_s"] is not None:
        return run["cpu_s"], run["trial_eq"]
    return run["spent_cpu_s"] + random_cpu, run["trial_eq"] + random_trials


def warm_imports() -> None:
    """Import what every tuner needs before any is measured, so none pays another's import in its CPU seconds."""
    import optuna
    import scipy.stats.qmc  # noqa: F401  (bayes_tune's Sobol start)
    import syne_tune.optimizer.baselines  # noqa: F401

    from greenpipe.components.bayes_tune import pruning, space_filling  # noqa: F401

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a trial stopped at the target is logged as failed


def measure(problem: Problem) -> tuple[dict[str, Any], float, float]:
    """One problem: its random pool, every tuner x seed; returns (table row, vs random, vs best anchor).

    Kept in bench/.cache/bayes_tune/ under a key of the problem, the settings and the code of the bench and of
    bayes_tune, so a run that was stopped measures only the problems it had not finished."""
    code = "".join(f.read_text() for f in sorted(SOURCES.glob("*.py"))) + Path(__file__).read_text()
    key = json.dumps([problem.name, problem.about, problem.space, BUDGET, list(SEEDS), TUNERS, code], default=str)
    done = CACHE / f"result-{problem.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.json"
    if done.is_file():
        row, ratio, anchor = json.loads(done.read_text())
        print(f"{problem.name}: measured earlier (cached in {done.name})", flush=True)
        return row, ratio, anchor
    measured = _measure(problem)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(measured))
    tmp.replace(done)
    return measured


def _measure(problem: Problem) -> tuple[dict[str, Any], float, float]:
    warm_imports()
    holdout, space = load(problem), SearchSpace.from_dict(problem.space)
    ref = pool(problem, holdout, space)
    values, cpus = np.array(ref["values"]), np.array(ref["cpu_s"])
    sign = 1.0 if problem.direction == "maximize" else -1.0
    best = float(values.max() if sign > 0 else values.min())
    target = best * (1 - TOLERANCE) if sign > 0 else best * (1 + TOLERANCE)
    hit = sign * values >= sign * target
    h = int(hit.sum())
    random_trials = (POOL + 1) / (h + 1)
    random_cpu = float(cpus[~hit].sum() / (h + 1) + cpus[hit].mean())
    row: dict[str, Any] = {
        "problem": problem.name,
        "held_out": problem.held_out,
        "about": problem.about,
        "hyperparameters": len(space.names),
        "pool_hits": h,
        "random_trials": round(random_trials, 2),
        "random_cpu_s": round(random_cpu, 3),
    }
    lines = [
        f"{problem.name}: best of {POOL} random {best:.5f}, {h} within 0.1%; random search expects "
        f"{random_trials:.1f} trials, {random_cpu:.2f} CPU s (mean trial {cpus.mean():.3f} s)"
    ]
    means = {}
    for tuner in TUNERS:
        runs = [tune(problem, holdout, space, tuner, seed, target) for seed in SEEDS]
        costs = [compute(r, random_cpu, random_trials) for r in runs]
        means[tuner] = statistics.mean(c for c, _ in costs)
        trial_eq = statistics.mean(t for _, t in costs)
        missed = sum(r["cpu_s"] is None for r in runs)
        row[tuner] = {
            "cpu_s": round(means[tuner], 3),
            "vs_random": round(random_cpu / means[tuner], 3),
            "trial_eq": round(trial_eq, 2),
            "vs_random_trial_eq": round(random_trials / trial_eq, 3),
            "missed": missed,
        }
        lines.append(
            f"  {tuner:14s} CPU {means[tuner]:8.2f} s (x{random_cpu / means[tuner]:5.2f} vs random)  "
            f"{trial_eq:6.2f} trial-eq (x{random_trials / trial_eq:5.2f})  missed {missed}/{len(runs)}"
        )
    print("\n".join(lines), flush=True)
    return row, random_cpu / means["bayes_tune"], min(means[a] for a in ANCHORS) / means["bayes_tune"]


def main() -> None:
    """Problems run in 3 processes (2 cores, and fits wait on a loaded machine); CPU seconds are per process."""
    from concurrent.futures import ProcessPoolExecutor

    t_start = time.time()
    with ProcessPoolExecutor(max_workers=3) as workers:
        measured = list(workers.map(measure, PROBLEMS))
    table = [row for row, _, _ in measured]
    ratios = {p.name: r for p, (_, r, _) in zip(PROBLEMS, measured, strict=True)}
    vs_anchor = {p.name: a for p, (_, _, a) in zip(PROBLEMS, measured, strict=True)}

    held = [p.name for p in PROBLEMS if p.held_out]
    names = ", ".join(f"{p.name}{' (held out)' if p.held_out else ''}" for p in PROBLEMS)
    print(f"\ntook {time.time() - t_start:.0f} s")
    path = write_results(
        "bayes_tune",
        COMMAND,
        [
            figure(
                "tune_compute_vs_random",
                round(statistics.median(ratios.values()), 3),
                "ratio",
                5,
                "higher",
                "random search's expected CPU seconds to a trial within 0.1% of the best of 200 random trials / "
                f"bayes_tune's (defaults, mean of 5 seeds); median over {names}",
            ),
            figure(
                "tune_worst_vs_random",
                round(min(ratios.values()), 3),
                "ratio",
                1.0,
                "higher",
                "the same ratio on the problem where bayes_tune does worst",
            ),
            figure(
                "tune_vs_best_anchor",
                round(statistics.median(vs_anchor.values()), 3),
                "ratio",
                1.0,
                "higher",
                "the best of Optuna TPE, TPE + Hyperband and Syne Tune BOHB per problem (CPU seconds to the same "
                "target) / bayes_tune's; median over the problems",
            ),
            figure(
                "tune_compute_vs_random_held_out",
                round(statistics.median(ratios[n] for n in held), 3),
                "ratio",
                5,
                "higher",
                f"tune_compute_vs_random on the problems held out from choosing the defaults: {', '.join(held)}",
            ),
            figure(
                "tune_vs_best_anchor_held_out",
                round(statistics.median(vs_anchor[n] for n in held), 3),
                "ratio",
                1.0,
                "higher",
                f"tune_vs_best_anchor on the held-out problems: {', '.join(held)}",
            ),
        ],
    )
    document = json.loads(path.read_text())
    document["table"] = table
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    main()

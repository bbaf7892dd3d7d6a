"""The tuners bench/bayes_tune.py compares, each driven one job at a time through the harness's Meter.

- tpe: Optuna TPESampler with its defaults, full-budget trials;
- tpe_hyperband: the same with Optuna's HyperbandPruner over rungs 1/9, 1/3, 1 of the budget (boosting rounds or
  trees where growing continues one fit, else data fractions);
- syne_bohb: Syne Tune's BOHB (asynchronous successive halving + KDE), same rungs;
- smac_mf: SMAC3's MultiFidelityFacade as it ships (random-forest surrogate, Hyperband intensifier with eta 3
  over budgets 1/9 to 1, its default initial design), through its ask/tell interface; SMAC restarts a
  configuration at each budget, so each of its trials is one fresh fit at the budget it asks for;
- bayes_tune: the step's tuning loop with its defaults (TuneSettings, fidelity "auto"), or a variant of them for
  the ablation (`bayes_tune[lever=value,...]`).
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bayes_tune_harness import COMPONENT, TRIAL_CODE, Meter, measured_run
from bayes_tune_problems import Problem

from greenpipe.components.bayes_tune.search_space import SearchSpace

ANCHORS = ("tpe", "tpe_hyperband", "syne_bohb", "smac_mf")
ANCHOR_NAMES = {
    "tpe": "Optuna TPE",
    "tpe_hyperband": "TPE + Hyperband",
    "syne_bohb": "Syne Tune BOHB",
    "smac_mf": "SMAC3 multi-fidelity",
}


def run(problem: Problem, tuner: str, seed: int) -> dict[str, Any]:
    """One measured (or cached) run of `tuner` on `problem` with `seed`."""
    if tuner in ANCHORS:
        fidelity = "none" if tuner == "tpe" else problem.multi_fidelity
        plays = {
            "tpe": lambda m, s, sd: play_optuna(m, problem, s, sd, hyperband=False),
            "tpe_hyperband": lambda m, s, sd: play_optuna(m, problem, s, sd, hyperband=True),
            "syne_bohb": lambda m, s, sd: play_bohb(m, problem, s, sd),
            "smac_mf": lambda m, s, sd: play_smac(m, problem, s, sd),
        }
        # keyed on the code this anchor runs (not the whole file: a new bayes_tune lever must not rerun anchors)
        used = {"tpe": play_optuna, "tpe_hyperband": play_optuna, "syne_bohb": play_bohb, "smac_mf": play_smac}
        code = [inspect.getsource(f) for f in (used[tuner], _params, _syne_space, _smac_space)]
        code += [inspect.getsource(_clip)] if tuner == "syne_bohb" else []
        code += [(COMPONENT / f).read_text() for f in TRIAL_CODE]
        return measured_run(problem, tuner, seed, fidelity, plays[tuner], code)
    variant = Variant.parse(tuner)
    code = [Path(__file__).read_text(), *(f.read_text() for f in sorted(COMPONENT.glob("*.py")))]
    return measured_run(
        problem,
        tuner,
        seed,
        variant.fidelity_for(problem),
        lambda m, s, sd: play_bayes_tune(m, problem, s, sd, variant),
        code,
        dataclasses.asdict(variant),
    )


@dataclass(frozen=True)
class Variant:
    """bayes_tune's levers; None keeps what the step ships with."""

    sampler: str | None = None  # tpe | gp | random
    start: str | None = None  # sobol | random
    pruner: str | None = None  # hopeless | hyperband | successive_halving | median | none
    fidelity: str | None = None  # auto | sample | none
    multivariate: str | None = None  # true | false (TPE's joint density, or one per parameter)
    startup: str | None = None  # the sampler's random startup trials (TuneSettings.n_startup_trials)

    @classmethod
    def parse(cls, label: str) -> Variant:
        """`bayes_tune` or `bayes_tune[pruner=none,sampler=gp]`."""
        if label == "bayes_tune":
            return cls()
        inner = label.removeprefix("bayes_tune[").removesuffix("]")
        return cls(**dict(part.split("=", 1) for part in inner.split(",")))

    def fidelity_for(self, problem: Problem) -> str:
        """What the step's fidelity rule picks (step._fidelity) with no small_sample fraction."""
        from greenpipe.components.bayes_tune.tuning import TuneSettings

        shipped = {f.name: f.default for f in dataclasses.fields(TuneSettings)}["pruner"]
        if (self.pruner or shipped) == "none" and self.fidelity in (None, "auto"):
            return "none"
        if self.fidelity == "sample":
            return "sample"
        if self.fidelity == "none":
            return "none"
        return "iterations" if problem.family.budget_resumable else "none"


def play_bayes_tune(meter: Meter, problem: Problem, space: SearchSpace, seed: int, variant: Variant) -> None:
    import optuna

    from greenpipe.components.bayes_tune.tuning import TuneSettings, open_study, run_trials

    settings = TuneSettings(space, problem.direction, max_trials=10_000, seed=seed)  # all else as it ships
    given = {k: v for k, v in dataclasses.asdict(variant).items() if v is not None and k != "fidelity"}
    typed = {"multivariate": lambda v: v == "true", "startup": int}
    renamed = {"startup": "n_startup_trials"}
    changes = {renamed.get(k, k): typed.get(k, str)(v) for k, v in given.items()}
    settings = dataclasses.replace(settings, **changes)

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


def play_optuna(meter: Meter, problem: Problem, space: SearchSpace, seed: int, hyperband: bool) -> None:
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


def play_bohb(meter: Meter, problem: Problem, space: SearchSpace, seed: int) -> None:
    from syne_tune.backend.trial_status import Trial
    from syne_tune.optimizer.baselines import BOHB

    np.random.seed(seed)  # Syne Tune's ASHA draws brackets from numpy's global generator
    steps = [round(level / meter.levels[0]) for level in meter.levels]
    scheduler = BOHB(
        _syne_space(space),
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
        result: dict[str, Any] = {}
        # BOHB's KDE can propose an integer outside its lograndint range (max_leaf_nodes=1 from 4..128, which
        # HistGradientBoosting refuses): clip to the space, as a user of Syne Tune would have to
        specs, proposed = space.to_dict(), _params(space, config)
        params = {name: _clip(specs[name], value) for name, value in proposed.items()}
        for index, value in meter.rungs(params):
            result = {"score": value, "step": steps[index]}
            if scheduler.on_trial_result(trial, result) == "STOP" and index < len(steps) - 1:
                break
        else:
            scheduler.on_trial_complete(trial, result)
        trial_id += 1


def play_smac(meter: Meter, problem: Problem, space: SearchSpace, seed: int) -> None:
    import logging

    from smac import MultiFidelityFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    logging.getLogger("smac").setLevel(logging.ERROR)
    levels = meter.levels

    def unused(config: Any, seed: int = 0, budget: float = 1.0) -> float:  # ask/tell: SMAC never calls it
        raise AssertionError("SMAC runs through ask/tell here")

    with tempfile.TemporaryDirectory() as out:
        scenario = Scenario(
            _smac_space(space, seed),
            deterministic=True,
            n_trials=100_000,  # the meter's budget stops the run
            min_budget=levels[0],
            max_budget=1.0,
            seed=seed,
            output_directory=Path(out),
        )
        smac = MultiFidelityFacade(
            scenario,
            unused,
            intensifier=MultiFidelityFacade.get_intensifier(scenario, eta=3),
            overwrite=True,
            logging_level=40,
        )
        sign = 1.0 if problem.direction == "maximize" else -1.0
        while not meter.over:
            info = smac.ask()
            level = min(levels, key=lambda lv: abs(lv - float(info.budget or 1.0)))
            value = meter.at_level(_params(space, dict(info.config)), level)
            smac.tell(info, TrialValue(cost=-sign * value))  # SMAC minimises


def _syne_space(space: SearchSpace) -> dict[str, Any]:
    from syne_tune import config_space as cs

    out: dict[str, Any] = {}
    for name, spec in space.to_dict().items():
        if spec["type"] == "categorical":  # one type per choice: pass them as JSON text
            out[name] = cs.choice([json.dumps(v) for v in spec["values"]])
        elif spec["type"] == "int":
            out[name] = (cs.lograndint if spec["scaling"] == "Logarithmic" else cs.randint)(spec["low"], spec["high"])
        else:
            out[name] = (cs.loguniform if spec["scaling"] == "Logarithmic" else cs.uniform)(spec["low"], spec["high"])
    return out


def _smac_space(space: SearchSpace, seed: int) -> Any:
    from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer

    cs = ConfigurationSpace(seed=seed)
    for name, spec in space.to_dict().items():
        if spec["type"] == "categorical":  # ConfigSpace wants one type per choice: JSON text
            cs.add(Categorical(name, [json.dumps(v) for v in spec["values"]]))
        else:
            kind = Integer if spec["type"] == "int" else Float
            cs.add(kind(name, (spec["low"], spec["high"]), log=spec["scaling"] == "Logarithmic"))
    return cs


def _clip(spec: dict[str, Any], value: Any) -> Any:
    if spec["type"] == "categorical":
        return value
    return min(spec["high"], max(spec["low"], value))


def _params(space: SearchSpace, config: dict[str, Any]) -> dict[str, Any]:
    """A tuner's config as the estimator's params: numpy scalars made plain, categorical JSON text decoded."""
    specs = space.to_dict()
    out = {}
    for name in space.names:
        value = config[name]
        value = value.item() if isinstance(value, np.generic) else value
        out[name] = json.loads(value) if specs[name]["type"] == "categorical" else value
    return out

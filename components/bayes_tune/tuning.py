"""The tuning loop: an Optuna study kept in the greenpipe store, warm start, pruning, and each trial's energy.

The study lives in an Optuna JournalStorage file under `<store>/bayes_tune/`, so a later job (another run,
another process) can warm-start from it by name, and a job that crashed resumes where it stopped. Each rung of
each trial is measured (CPU time, wall time, peak memory -> kWh by greenpipe's formula) and kept on the trial.
A pruned trial's avoided energy is what the rungs it skipped cost the trials that did run them (their measured
median), so nothing is credited that was not measured.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from greenpipe.components.bayes_tune.pruning import PRUNERS, make_pruner
from greenpipe.components.bayes_tune.search_space import SearchSpace
from greenpipe.components.bayes_tune.space_filling import ORIGIN as SPACE_FILLING
from greenpipe.components.bayes_tune.space_filling import sobol_points
from greenpipe.errors import GreenpipeError
from greenpipe.ledger import UsageMeter, formula_kwh

SAMPLERS = ("tpe", "gp", "random")
# the first trials: a space-filling Sobol design, or the sampler's own random startup (the default: it reached the
# bench's targets with less CPU on 3 of the 4 tuning problems and tied on the fourth, bench/bayes_tune_ablation.py)
STARTS = ("sobol", "random")
WARM_START_TYPES = ("auto", "IdenticalDataAndAlgorithm", "TransferLearning")
TRANSFER_TOP_K = 1  # a transfer warm start re-evaluates the parent's best configuration first
COPIED = ("warm_start", "transfer_prior")  # origins of trials copied from a parent study, not run here
ABANDONED = "abandoned"  # user attr of a trial a killed process left running (abandon_interrupted)
STORAGE_FILE = "studies.journal"
# the user attr holding a trial's measurements; studies written before December 2026 kept each as its own attr
MEASUREMENTS_ATTR = "measured"
# a rung of a small model takes tens of ms: its meter samples RSS 4 times a second (the rung's RSS at its start and
# end is always taken), and reads this process's RSS only, since a trial's fits start no child process (finding
# children walks every process on the machine: ~3 ms a call, twice per rung, a third of the loop's own cost per
# trial, bench/bayes_tune_overhead.py). The step as a whole is still measured by the executor, children included.
RUNG_RSS_SAMPLE_S = 0.25


class Trials(Protocol):
    """What the loop needs from a trial runner (objective.TrialRunner, or a benchmark's own)."""

    levels: list[float]

    def costs(self) -> list[float]: ...

    def run(self, params: dict[str, Any]) -> Iterator[tuple[float, float, float]]: ...


@dataclass(frozen=True)
class TuneSettings:
    space: SearchSpace
    direction: str
    max_trials: int
    max_parallel: int = 1
    sampler: str = "tpe"
    pruner: str = "none"  # the step's default: one full-budget rung per trial
    seed: int = 0
    n_startup_trials: int = 0  # 0: min(10, max(3, max_trials // 8))
    start: str = "random"
    # TPE's density: one joint density over all parameters (Optuna 5's TPESampler default for one objective, and
    # about 7 ms of sampler CPU a trial cheaper than one per parameter on 5 parameters) or one per parameter. At 20
    # seeds on the tuning problems that reach their targets, one density per parameter spent 1.29x the joint
    # density's CPU (90% seed-bootstrap interval 0.98-1.70; bench/bayes_tune_ablation.py, see the README); the
    # 5-seed ablation that had picked it (1.58x against 1.40x random's CPU) was inside its seed noise.
    multivariate: bool = True

    def __post_init__(self) -> None:
        if self.max_trials < 1:
            raise GreenpipeError(f"max_trials={self.max_trials!r} must be >= 1")
        if self.max_parallel < 1:
            raise GreenpipeError(
                f"max_parallel={self.max_parallel!r} must be >= 1 (1 is what the guidance advises: "
                "each trial learns from all the ones before it)"
            )
        if self.sampler not in SAMPLERS:
            raise GreenpipeError(f"sampler={self.sampler!r} must be one of {', '.join(SAMPLERS)}")
        if self.pruner not in PRUNERS:
            raise GreenpipeError(f"pruner={self.pruner!r} must be one of {', '.join(PRUNERS)}")
        if self.start not in STARTS:
            raise GreenpipeError(f"start={self.start!r} must be one of {', '.join(STARTS)}")

    @property
    def startup(self) -> int:
        return self.n_startup_trials or min(10, max(3, self.max_trials // 8))


@dataclass
class TrialRecord:
    number: int
    state: str  # COMPLETE | PRUNED | FAIL
    value: float | None
    params: dict[str, Any]
    rungs: int
    cost: float  # trial-equivalents
    cpu_s: float
    wall_s: float
    energy_kwh: float
    origin: str  # tuned | enqueued | warm_start
    rung_kwh: list[float] = field(default_factory=list)


@dataclass
class TuneOutcome:
    study_name: str
    best_params: dict[str, Any]
    best_value: float
    records: list[TrialRecord]
    warm_start_type: str | None = None
    avoided_kwh: float = 0.0
    avoided_trace: str = ""

    def own(self) -> list[TrialRecord]:
        """Trials this study ran itself (not copied from a parent)."""
        return [r for r in self.records if r.origin not in COPIED]

    @property
    def pruned(self) -> int:
        return sum(r.state == "PRUNED" for r in self.own())

    @property
    def cost(self) -> float:
        return sum(r.cost for r in self.own())

    @property
    def energy_kwh(self) -> float:
        return sum(r.energy_kwh for r in self.own())


def storage_at(folder: str | Path) -> Any:
    """The Optuna storage kept under `folder` (created if needed)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path / STORAGE_FILE)))


def make_sampler(settings: TuneSettings) -> Any:
    import optuna

    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=settings.seed)
    if settings.sampler == "gp":
        try:
            import torch  # noqa: F401  (GPSampler needs it)
        except ImportError as exc:
            raise GreenpipeError("sampler='gp' needs torch: pip install 'greenpipe[torch]', or use 'tpe'") from exc
        return optuna.samplers.GPSampler(
            seed=settings.seed, n_startup_trials=settings.startup, deterministic_objective=True
        )
    return optuna.samplers.TPESampler(
        seed=settings.seed,
        n_startup_trials=settings.startup,
        multivariate=settings.multivariate,
        constant_liar=settings.max_parallel > 1,
    )


def open_study(storage: Any, name: str, settings: TuneSettings, attrs: dict[str, Any]) -> Any:
    """Create the study, or reopen it (resume) when one of that name was made with the same settings."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction=optuna.study.StudyDirection[settings.direction.upper()],
        sampler=make_sampler(settings),
        pruner=optuna.pruners.NopPruner(),  # run_trials sets the pruner once it knows the rungs
        load_if_exists=True,
    )
    old = study.user_attrs
    if old:
        for key in ("estimator", "metric", "space", "fidelity"):
            if key in attrs and old.get(key) != attrs[key]:
                raise GreenpipeError(
                    f"study_name={name!r} already exists with {key}={old.get(key)!r}, not "
                    f"{attrs[key]!r}: pick another study_name, or warm-start from it with "
                    f"warm_start_from={name!r}"
                )
    else:
        for key, value in attrs.items():
            study.set_user_attr(key, value)
    return study


def load_parent(storage: Any, parent: str) -> Any:
    import optuna

    names = optuna.get_all_study_names(storage)
    if parent not in names:
        shown = ", ".join(sorted(names)[:8]) or "none yet"
        raise GreenpipeError(
            f"warm_start_from={parent!r} names no tuning study in this store (studies: {shown}); "
            "pass a study_name from an earlier bayes_tune run's best_params JSON"
        )
    return optuna.load_study(study_name=parent, storage=storage)


def warm_start(study: Any, parent: Any, space: SearchSpace, kind: str, attrs: dict[str, Any]) -> tuple[str, int]:
    """Seed `study` from `parent`. Identical data and algorithm: copy its finished trials (their values hold here).
    Transfer: copy its completed trials as priors the sampler learns from (never a candidate for best, no pruning
    evidence) and re-evaluate its best configuration first. Returns (type used, trials seeded)."""
    import optuna
    from optuna.trial import TrialState, create_trial

    if kind not in WARM_START_TYPES:
        raise GreenpipeError(f"warm_start_type={kind!r} must be one of {', '.join(WARM_START_TYPES)}")
    pattrs = parent.user_attrs
    if parent.direction != study.direction:
        raise GreenpipeError(
            f"warm_start_from={parent.study_name!r} was tuned in direction {parent.direction.name}; "
            "warm start needs the same direction"
        )
    same = all(pattrs.get(k) == attrs.get(k) for k in ("estimator", "metric", "data_digest", "fidelity"))
    if kind == "auto":
        kind = "IdenticalDataAndAlgorithm" if same else "TransferLearning"
    if kind == "IdenticalDataAndAlgorithm" and not same:
        diff = [k for k in ("estimator", "metric", "data_digest", "fidelity") if pattrs.get(k) != attrs.get(k)]
        raise GreenpipeError(
            f"warm_start_type='IdenticalDataAndAlgorithm' but the parent study "
            f"{parent.study_name!r} differs in {', '.join(diff)}; use 'TransferLearning'"
        )
    if study.user_attrs.get("warm_started_from") == parent.study_name:
        return kind, 0  # resuming a study that was already seeded
    study.set_user_attr("warm_started_from", parent.study_name)
    pspace = SearchSpace.from_dict(json.loads(pattrs["space"])) if "space" in pattrs else space
    finished = [
        t
        for t in parent.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        if set(space.names) <= set(t.params)
    ]
    usable = [(t, pspace.decode({n: t.params[n] for n in space.names})) for t in finished]
    usable = [(t, real) for t, real in usable if space.contains(real)]
    if kind == "IdenticalDataAndAlgorithm":
        copies = [
            create_trial(
                state=t.state,
                value=t.value if t.state == TrialState.COMPLETE else None,
                params=space.encode(real),
                distributions=space.distributions(),
                intermediate_values=dict(t.intermediate_values),
                user_attrs={**t.user_attrs, "origin": "warm_start", "parent_trial": t.number},
            )
            for t, real in usable
        ]
        study.add_trials(copies)
        return kind, len(copies)
    study.add_trials(
        [
            create_trial(
                state=TrialState.COMPLETE,
                value=t.value,
                params=space.encode(real),
                distributions=space.distributions(),
                user_attrs={"origin": "transfer_prior"},
            )
            for t, real in usable
            if t.state == TrialState.COMPLETE
        ]
    )
    ranked = sorted(
        (p for p in usable if p[0].state == TrialState.COMPLETE),
        key=lambda p: p[0].value,
        reverse=parent.direction == optuna.study.StudyDirection.MAXIMIZE,
    )
    seen: set[str] = set()
    for _, real in ranked:
        key = json.dumps(real, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        study.enqueue_trial(space.encode(real), user_attrs={"origin": "enqueued"})
        if len(seen) == TRANSFER_TOP_K:
            break
    return kind, len(seen)


def progress_callback(ctx: Any, settings: TuneSettings, metric: str) -> Any:
    """An Optuna callback that shows `trial k of n, best <metric> v` on the step's progress line."""

    def report(study: Any, _trial: Any) -> None:
        own = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("origin") not in COPIED]
        values = [t.value for t in own if t.value is not None and t.state.name == "COMPLETE"]
        done = sum(1 for t in own if t.state.is_finished())
        pick = max if settings.direction == "maximize" else min
        ctx.progress(done, settings.max_trials, f"best {metric} {pick(values):.4f}" if values else "")

    return report


def run_trials(
    study: Any, trials: Trials, settings: TuneSettings, log: Any = None, callbacks: list[Any] | None = None
) -> TuneOutcome:
    """Run the study up to max_trials own trials (a resumed study counts the ones it already ran)."""
    import optuna
    from optuna.trial import TrialState

    levels = trials.levels
    steps = [max(1, round(level / levels[0])) for level in levels]
    study.pruner = make_pruner(settings.pruner, steps)

    def objective(trial: Any) -> float:
        params = settings.space.suggest(trial)
        rung_iter = trials.run(params)
        totals = {"cost": 0.0, "cpu_s": 0.0, "wall_s": 0.0, "energy_kwh": 0.0}
        rung_kwh: list[float] = []
        value = float("nan")
        try:
            for index, step_no in enumerate(steps):
                with UsageMeter(sample_s=RUNG_RSS_SAMPLE_S, children=False) as meter:
                    _, cost, value = next(rung_iter)
                kwh = formula_kwh(meter.cpu_s, meter.wall_s, meter.peak_mb / 1024)
                rung_kwh.append(kwh)
                for key, amount in (
                    ("cost", cost),
                    ("cpu_s", meter.cpu_s),
                    ("wall_s", meter.wall_s),
                    ("energy_kwh", kwh),
                ):
                    totals[key] += amount
                trial.report(value, step=step_no)
                if index < len(steps) - 1 and trial.should_prune():
                    raise optuna.TrialPruned()
        finally:
            # written once, when the trial ends however it ends (each write is a journal append under a file
            # lock); a trial cut short by a killed process is abandoned on resume and counted nowhere anyway
            keep_measurements(trial, totals, rung_kwh)
        return value

    abandon_interrupted(study)
    done = sum(
        1
        for t in study.get_trials(deepcopy=False)
        if t.user_attrs.get("origin") not in COPIED and t.state.is_finished() and not _abandoned(t)
    )
    remaining = settings.max_trials - done
    sobol = settings.start == "sobol" and settings.sampler != "random"
    if done == 0 and sobol and not _has_space_filling(study):
        for params in sobol_points(settings.space, min(settings.startup, remaining), settings.seed):
            study.enqueue_trial(settings.space.encode(params), user_attrs={"origin": SPACE_FILLING})
    if remaining > 0:
        callbacks = list(callbacks or [])
        if settings.max_parallel == 1:  # (overlapping trials are not reproducible anyway)
            reseed_for_next_trial(study, settings)
            callbacks.append(lambda study, _trial: reseed_for_next_trial(study, settings))
        study.optimize(
            objective, n_trials=remaining, n_jobs=settings.max_parallel, gc_after_trial=False, callbacks=callbacks
        )
    kept = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL) and not _abandoned(t)
    ]
    # numbered in the order they were kept: a trial a killed process left unfinished shifts no number
    records = [replace(_record(t, settings.space), number=i) for i, t in enumerate(kept)]
    valid = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.user_attrs.get("origin") != "transfer_prior"
    ]  # priors were scored on other data
    pick = max if settings.direction == "maximize" else min
    best = pick(valid, key=lambda t: t.value)
    outcome = TuneOutcome(study.study_name, settings.space.decode(best.params), float(best.value), records)
    if settings.max_parallel == 1:
        outcome.avoided_kwh, outcome.avoided_trace = pruning_avoided(outcome.own(), len(levels))
    elif log is not None:
        log("max_parallel > 1: trials overlapped, so per-trial energy is shared and pruning credits no energy")
    return outcome


def keep_measurements(trial: Any, totals: dict[str, float], rung_kwh: list[float]) -> None:
    """Store a trial's measured totals and its energy per rung on the trial, as one user attr (each attr is one
    journal append with an fsync in the step's study file). A trial with no origin attr was tuned here."""
    trial.set_user_attr(MEASUREMENTS_ATTR, {**totals, "rung_kwh": rung_kwh})


def reseed_for_next_trial(study: Any, settings: TuneSettings) -> None:
    """Give the study a sampler seeded by (seed, trials finished so far): the next trial then draws the same
    parameters whether the study ran without a break or resumed after its process was killed (a sampler's own
    random stream restarts with the process, so a resumed study would otherwise draw other trials)."""
    import numpy as np

    finished = sum(1 for t in study.get_trials(deepcopy=False) if t.state.is_finished() and not _abandoned(t))
    seed = int(np.random.SeedSequence([settings.seed, finished]).generate_state(1)[0])
    study.sampler = make_sampler(replace(settings, seed=seed))


def abandon_interrupted(study: Any) -> None:
    """Trials still RUNNING when a study is opened were cut short by a killed process (the runner runs one
    execution of a step at a time per cache key, and a container job holds the shared lease): mark them failed
    and abandoned, so they count nowhere and the study goes on as if they had never started."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):  # Optuna has no public call for this
        study._storage.set_trial_user_attr(t._trial_id, ABANDONED, True)
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)


def _abandoned(trial: Any) -> bool:
    return bool(trial.user_attrs.get(ABANDONED))


def _has_space_filling(study: Any) -> bool:
    return any(t.user_attrs.get("origin") == SPACE_FILLING for t in study.get_trials(deepcopy=False))


def pruning_avoided(records: list[TrialRecord], n_rungs: int) -> tuple[float, str]:
    """Energy the pruned trials did not spend: for each rung they skipped, the median energy that rung measured
    on the trials that completed it. Rungs no completed trial measured are credited nothing."""
    complete = [r for r in records if r.state == "COMPLETE" and len(r.rung_kwh) == n_rungs]
    medians = [statistics.median(r.rung_kwh[j] for r in complete) if complete else 0.0 for j in range(n_rungs)]
    total, skipped = 0.0, 0
    for r in records:
        if r.state == "PRUNED":
            total += sum(medians[r.rungs :])
            skipped += n_rungs - r.rungs
    if not complete or not skipped:
        return 0.0, ""
    wh = ", ".join(f"{m * 1000:.3g}" for m in medians)
    return total, (
        f"measured median Wh per rung {wh} over {len(complete)} completed trials x {skipped} rungs "
        f"skipped by {sum(r.state == 'PRUNED' for r in records)} pruned trials"
    )


def _record(t: Any, space: SearchSpace) -> TrialRecord:
    attrs = t.user_attrs
    measured = attrs.get(MEASUREMENTS_ATTR, attrs)  # older studies (and trials copied from them) kept one attr each
    try:
        params = space.decode(t.params)
    except KeyError:
        params = dict(t.params)
    return TrialRecord(
        number=t.number,
        state=t.state.name,
        value=None if t.value is None else float(t.value),
        params=params,
        rungs=len(measured.get("rung_kwh", [])) or len(t.intermediate_values),
        cost=float(measured.get("cost", 0.0)),
        cpu_s=float(measured.get("cpu_s", 0.0)),
        wall_s=float(measured.get("wall_s", 0.0)),
        energy_kwh=float(measured.get("energy_kwh", 0.0)),
        origin=str(attrs.get("origin", "tuned")),
        rung_kwh=list(measured.get("rung_kwh", [])),
    )

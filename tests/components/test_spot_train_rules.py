"""spot_train stop-rules decide on evidence that survives the metric's own noise, and each checks what its
name promises (issue 13)."""

from __future__ import annotations

import math
import random
import time

import pytest

from greenpipe.components.spot_train.cpu_demand import CpuDemand
from greenpipe.components.spot_train.evidence import trend
from greenpipe.components.spot_train.rules import History, make_rule, parse_rules


def _history(loss: list[float], val_loss: list[float] | None = None) -> History:
    rows = []
    for i, value in enumerate(loss):
        row = {"step": float(i + 1), "loss": value}
        if val_loss is not None:
            row["val_loss"] = val_loss[i]
        rows.append(row)
    return History(rows=rows)


def _noisy(values: list[float], sd: float, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [v + rng.gauss(0.0, sd) for v in values]


def test_a_trend_is_exact_on_a_line_and_uncertain_on_noise():
    line = trend([1.0, 0.9, 0.8, 0.7, 0.6])
    assert line.change == pytest.approx(-0.4) and line.stderr == 0.0
    noisy = trend(_noisy([0.5] * 11, 0.05))
    assert noisy.stderr > 0.02 and noisy.lower(3) < 0 < noisy.upper(3)


def test_loss_not_decreasing_does_not_call_a_noisy_falling_curve_a_plateau():
    # SGD-like: falling 2% per 10 steps under noise of 3%; two single points 10 steps apart often show a rise
    falling = _noisy([0.6 * (1 - 0.002 * i) for i in range(40)], 0.018, seed=4)
    rule = make_rule("LossNotDecreasing")
    history = History()
    for i, value in enumerate(falling):
        history.rows.append({"step": float(i + 1), "loss": value})
        assert rule.check(history) is None, f"fired at step {i + 1}"
    assert any(falling[i] > falling[i - 10] for i in range(10, 40))  # Debugger's point test would have fired


def test_loss_not_decreasing_fires_on_dead_learning_and_on_a_rising_loss():
    rule = make_rule("LossNotDecreasing", {"num_steps": 5})
    assert rule.check(_history([0.6931] * 5)) is None  # not enough steps yet
    flat = rule.check(_history([0.6931 - 1e-9 * i for i in range(6)]))
    assert flat is not None and "not falling by 0.1%" in flat.reason
    rising = rule.check(_history(_noisy([1.0 + 0.05 * i for i in range(6)], 0.005)))
    assert rising is not None and "rose" in rising.reason


def test_overtraining_ignores_a_training_plateau_and_fires_on_a_growing_gap():
    rule = make_rule("Overtraining")
    plateau = _history([0.40] * 30, _noisy([0.45] * 30, 0.01))  # issue 13's false Overtraining
    assert rule.check(plateau) is None
    steps = range(30)
    train = [0.5 * math.exp(-0.1 * i) for i in steps]  # still falling
    val = _noisy([0.4 + 0.002 * (i - 12) ** 2 for i in steps], 0.01)  # a U: best near step 12, then rising
    fire = rule.check(_history(train, val))
    assert fire is not None and "gap grows" in fire.reason


def test_overtraining_does_not_fire_on_a_noisy_validation_curve_without_a_rise():
    rule = make_rule("Overtraining")
    train = [0.5 * math.exp(-0.05 * i) for i in range(40)]
    for seed in range(20):
        val = _noisy([0.45] * 40, 0.03, seed=seed)  # SGD's validation swings
        history = History()
        for i in range(40):
            history.rows.append({"step": float(i + 1), "loss": train[i], "val_loss": val[i]})
            assert rule.check(history) is None, f"seed {seed} fired at step {i + 1}"


def test_vanishing_gradient_reads_the_measured_gradient_only():
    rule = make_rule("VanishingGradient")
    assert rule.check(_history([0.7, 0.7])) is None  # a loop that does not measure gradients
    weak = History(rows=[{"step": 1.0, "loss": 0.7, "min_gradient_mean_abs": 3e-9}])
    assert "3e-09" in rule.check(weak).reason
    strong = History(rows=[{"step": 1.0, "loss": 0.7, "min_gradient_mean_abs": 1e-3}])
    assert rule.check(strong) is None


def test_defaults_and_greenpipe_only_parameters():
    assert [r.name for r in parse_rules(None)] == [
        "ExplodingTensor",
        "VanishingGradient",
        "LossNotDecreasing",
        "Overtraining",
    ]
    with pytest.raises(Exception, match="evidence_sigmas"):
        parse_rules({"Overtraining": {"evidence_sigmas": -1}})


def test_cpu_demand_tells_a_waiting_job_from_a_working_one():
    demand = CpuDemand()
    time.sleep(0.3)
    waiting = demand.sample()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
    working = demand.sample()  # counts time queued for a CPU too: a loaded machine does not make it look idle
    assert waiting < 30 < working


def test_exploding_tensor_tells_divergence_from_a_noisy_step_near_zero():
    rule = make_rule("ExplodingTensor")
    assert rule.check(_history([0.9, 0.01, 0.002, 0.03])) is None  # 15x its lowest, still far below untrained
    fire = rule.check(_history([0.9, 0.5, 0.4, 12.0]))
    assert fire is not None and "diverging" in fire.reason

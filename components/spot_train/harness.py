"""The training harness: a context a training function uses to resume, report, checkpoint and stop.

A training function takes the context and returns its final state:

    def train(ctx):
        state = ctx.load_checkpoint() or init()
        for step in range(ctx.start_step, ctx.max_steps):
            state = one_epoch(state, step)
            if ctx.end_step(step + 1, state, loss=..., val_loss=...):   # report + checkpoint + should_stop
                break
        return state

SIGTERM (what a spot reclaim sends) sets a flag; the next `save_checkpoint`/`end_step` writes a checkpoint at
once and raises `Interrupted`, which the worker turns into exit code EXIT_INTERRUPTED. Steps must therefore be
shorter than the reclaim notice (two minutes on EC2 spot).

What the run keeps never depends on the clock: when a rule stops training, the state kept is the best one over
every step reported to `save_checkpoint` (lowest val_loss, else loss; the earliest of equals), held in memory
and carried inside each checkpoint, not the best of whichever steps happened to be checkpointed, since a
checkpoint's timing depends on wall time (`checkpoint_every_s`, the overhead budget) and so on machine load.
"""

from __future__ import annotations

import math
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from greenpipe.components.spot_train.checkpoints import CheckpointStore
from greenpipe.components.spot_train.rules import Fire, History, StopRule

EXIT_INTERRUPTED = 75  # EX_TEMPFAIL: "try again later", what a reclaimed spot job should do

_interrupt = threading.Event()


class Interrupted(BaseException):  # noqa: N818 - a control-flow signal, not an error; BaseException so `except Exception` in user code cannot swallow it
    """Raised after the checkpoint that follows a SIGTERM."""


def install_sigterm_handler() -> None:
    """Make SIGTERM request a checkpoint-and-exit instead of killing the process (main thread only)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: _interrupt.set())


@dataclass
class Outcome:
    status: str  # completed | stopped | interrupted
    steps: int
    state: Any
    rule: str = ""
    reason: str = ""
    findings: list[dict[str, str]] = field(default_factory=list)
    best_step: int | None = None
    resumed_from: int = 0
    skipped_checkpoints: list[str] = field(default_factory=list)
    rows: list[dict[str, float]] = field(default_factory=list)
    checkpoints_written: int = 0
    checkpoint_s: float = 0.0
    snapshot_s: float = 0.0  # time spent copying the best state so far (what keeping it costs)

    def kwh_per_step(self) -> float:
        """Mean measured energy of the steps run (in this attempt and those before it), 0 if none."""
        costs = [r["kwh"] for r in self.rows if "kwh" in r]
        return sum(costs) / len(costs) if costs else 0.0

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "state"} | {"kwh_per_step": self.kwh_per_step()}


class TrainContext:
    """What a training function sees. Thread-safe: a monitor thread samples CPU and checks time-based rules."""

    def __init__(
        self,
        max_steps: int,
        rules: list[StopRule],
        checkpoints: CheckpointStore | None = None,
        checkpoint_every: int = 1,
        checkpoint_every_s: float = 0.0,
        seed: int = 0,
        sample_s: float = 0.5,
        max_overhead: float = 0.05,
    ):
        self.max_steps = int(max_steps)
        self.rules = list(rules)
        self.checkpoints = checkpoints
        self.checkpoint_every = int(checkpoint_every)
        self.checkpoint_every_s = float(checkpoint_every_s)
        self.seed = seed
        self.sample_s = sample_s
        self.max_overhead = float(max_overhead)
        self._costs: list[float] = []  # the last few save times: a median, so one slow fsync does not stretch
        self.start_step = 0
        self.history = History()
        self.fired: Fire | None = None
        self.findings: list[Fire] = []
        self._best: tuple[int, float, bytes | None] | None = None  # (step, monitored loss, pickled state)
        self._track_best = bool(self.rules)  # without rules nothing stops: the last state is kept
        self.snapshot_s = 0.0
        self.skipped: list[str] = []
        self.checkpoints_written = 0
        self.checkpoint_s = 0.0
        self._lock = threading.Lock()
        self._last_save = time.monotonic()
        self._mark = (time.monotonic(), _cpu_seconds())
        self._done = threading.Event()

    # -- for the training function ---------------------------------------------------------------------------

    def load_checkpoint(self) -> Any:
        """The state in the newest valid checkpoint (None if there is none); sets `start_step`.

        Call it once set up (imports, data): the stall clock and the per-step cost start here."""
        self._mark = (time.monotonic(), _cpu_seconds())
        with self._lock:
            self.history.last_report = time.monotonic()
        if self.checkpoints is None:
            return None
        loaded, self.skipped = self.checkpoints.newest_valid()
        if loaded is None:
            return None
        payload = loaded.payload
        self.start_step = loaded.step
        with self._lock:
            self.history.rows = [r for r in payload["rows"] if r["step"] <= loaded.step]
        best = payload.get("best")
        if best is not None and self._track_best:
            step, metric, state_bytes = best
            self._best = (step, metric, pickle.dumps(payload["state"]) if state_bytes is None else state_bytes)
        return payload["state"]

    def report(self, step: int, **metrics: float) -> None:
        """Record the metrics of a finished step and run the rules on them."""
        now, cpu = time.monotonic(), _cpu_seconds()
        wall, used = now - self._mark[0], cpu - self._mark[1]
        self._mark = (now, cpu)
        row = {"step": float(step), **{k: float(v) for k, v in metrics.items()}}
        row["wall_s"], row["cpu_s"], row["kwh"] = wall, used, _kwh(used, wall)
        with self._lock:
            self.history.rows.append(row)
            self.history.last_report = now
            self._evaluate(now)

    def save_checkpoint(self, step: int, state: Any, force: bool = False) -> bool:
        """Write a checkpoint if one is due (every N steps / T seconds), forced, or a SIGTERM arrived.

        Raises Interrupted right after the checkpoint when a SIGTERM arrived."""
        interrupted = _interrupt.is_set()
        self._remember_if_best(step, state)
        now = time.monotonic()
        due = force or interrupted
        due = due or (self.checkpoint_every > 0 and step % self.checkpoint_every == 0)
        due = due or (self.checkpoint_every_s > 0 and now - self._last_save >= self.checkpoint_every_s)
        if due and not (force or interrupted) and self.max_overhead > 0:
            # Postpone while saving would cost more than max_overhead of the time since the last save.
            recent = sorted(self._costs[-5:])
            cost = recent[len(recent) // 2] if recent else 0.0  # median: one save slowed by load is noise
            due = now - self._last_save >= cost / self.max_overhead
        written = False
        if due and self.checkpoints is not None:
            t0 = time.perf_counter()
            best = self._best
            if best is not None and best[0] == step:
                best = (best[0], best[1], None)  # the state itself: not stored twice
            with self._lock:
                payload = {"step": step, "state": state, "rows": list(self.history.rows), "best": best}
            self.checkpoints.save(step, payload)
            self._costs.append(time.perf_counter() - t0)
            self.checkpoint_s += self._costs[-1]
            self.checkpoints_written += 1
            self._last_save = time.monotonic()
            written = True
        if interrupted:
            raise Interrupted(f"SIGTERM: checkpointed at step {step}" if written else "SIGTERM")
        return written

    def should_stop(self) -> bool:
        """True once a rule fired that stops training."""
        with self._lock:
            return self.fired is not None

    def end_step(self, step: int, state: Any, **metrics: float) -> bool:
        """report + save_checkpoint + should_stop, for the common loop."""
        self.report(step, **metrics)
        self.save_checkpoint(step, state)
        return self.should_stop()

    # -- for the harness -------------------------------------------------------------------------------------

    def best_step(self) -> int | None:
        """The step with the lowest monitored loss so far (the earliest of equals), None before any."""
        return None if self._best is None else self._best[0]

    def _remember_if_best(self, step: int, state: Any) -> None:
        if not self._track_best:
            return
        with self._lock:
            metric = self._monitored(step)
        if metric is None or not math.isfinite(metric):
            return
        if self._best is None or metric < self._best[1]:
            t0 = time.perf_counter()
            self._best = (step, metric, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
            self.snapshot_s += time.perf_counter() - t0

    def _monitored(self, step: int) -> float | None:
        row = next((r for r in reversed(self.history.rows) if r["step"] == step), None)
        if row is None:
            return None
        return row.get("val_loss", row.get("loss"))

    def _evaluate(self, now: float) -> None:
        if self.fired is not None:
            return
        self.history.now = now
        for rule in self.rules:
            fire = rule.check(self.history)
            if fire is None:
                continue
            if fire.stop:
                self.fired = fire
                return
            if all(f.reason != fire.reason for f in self.findings):
                self.findings.append(fire)

    def _monitor(self) -> None:
        from greenpipe.components.spot_train.cpu_demand import CpuDemand

        demand = CpuDemand()
        while not self._done.wait(self.sample_s):
            sample = demand.sample()
            with self._lock:
                self.history.cpu_percent.append(sample)
                self._evaluate(time.monotonic())

    def run(self, train: Callable[[TrainContext], Any]) -> Outcome:
        """Run a training function under this context; pick the state to keep."""
        self._mark = (time.monotonic(), _cpu_seconds())
        self.history.last_report = time.monotonic()
        monitor = threading.Thread(target=self._monitor, daemon=True, name="spot-train-monitor")
        monitor.start()
        status = "completed"
        try:
            state = train(self)
        except Interrupted:
            status, state = "interrupted", None
        finally:
            self._done.set()
            monitor.join()
        rows = self.history.rows
        steps = int(rows[-1]["step"]) if rows else self.start_step
        outcome = Outcome(
            status,
            steps,
            state,
            resumed_from=self.start_step,
            skipped_checkpoints=self.skipped,
            rows=list(rows),
            checkpoints_written=self.checkpoints_written,
            checkpoint_s=self.checkpoint_s,
            snapshot_s=self.snapshot_s,
            findings=[{"rule": f.rule, "reason": f.reason} for f in self.findings],
        )
        if status == "completed" and self.fired is not None:
            outcome.status, outcome.rule, outcome.reason = "stopped", self.fired.rule, self.fired.reason
            outcome.best_step, outcome.state = self._best_state(steps, state)
        return outcome

    def _best_state(self, last_step: int, last_state: Any) -> tuple[int, Any]:
        """After a stop: the best state seen if it beats the last one on the monitored loss."""
        if self._best is None or self._best[0] == last_step or self._best[2] is None:
            return last_step, last_state
        last = self._monitored(last_step)
        if last is not None and math.isfinite(last) and last <= self._best[1]:
            return last_step, last_state
        return self._best[0], pickle.loads(self._best[2])


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _kwh(cpu_s: float, wall_s: float) -> float:
    import psutil

    from greenpipe.ledger import formula_kwh

    return formula_kwh(cpu_s, wall_s, psutil.Process().memory_info().rss / 2**30)

"""The context a step body runs in: where the store is, which execution this is, and a book of avoided energy.

Components call `greenpipe.context.current()`; outside the runner (a plain call, a KFP pod, a SageMaker job)
it is a detached context on GREENPIPE_HOME whose credits are kept in memory and written by the entry point.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenpipe.ledger import Credit, CreditBook

if TYPE_CHECKING:
    from greenpipe.store import Store

_local = threading.local()


@dataclass
class StepContext:
    home: Path
    run_id: str | None = None
    exec_id: str | None = None
    task: str | None = None
    credits: CreditBook = field(default_factory=CreditBook)
    display: Any = None  # the runner's live display (step_log, step_progress); None: plain lines on stderr

    def credit_avoided(self, kind: str, energy_kwh: float, traced_to: str, note: str = "") -> None:
        """Record energy this step avoided. `traced_to` names the measured execution or measurement it comes
        from (e.g. "exec:3f2a..." or "measured 0.8 Wh/epoch x 12 epochs"); nothing unmeasured may be credited."""
        self.credits.add(Credit(kind, float(energy_kwh), traced_to, note))

    def store(self) -> Store:  # imported lazily to keep this module light
        from greenpipe.store import Store

        return Store(self.home).create()

    def log(self, message: str) -> None:
        if self.display is not None:
            self.display.step_log(self.task or "step", message)
        else:
            print(f"[{self.task or 'step'}] {message}", file=sys.stderr, flush=True)

    def progress(self, done: int, total: int | None = None, detail: str = "") -> None:
        """How far a long step is, e.g. `progress(3, 12, "best accuracy 0.812")`: the live display shows it on the
        step's line; logs get it as a line (at most one every few seconds, and the last)."""
        text = f"{done} of {total}" if total else str(done)
        text = f"{text}, {detail}" if detail else text
        if self.display is not None:
            self.display.step_progress(self.task or "step", text, final=total is not None and done >= total)
        else:
            print(f"[{self.task or 'step'}] {text}", file=sys.stderr, flush=True)


def current() -> StepContext:
    """The running step's context, or a detached one on GREENPIPE_HOME."""
    active: StepContext | None = getattr(_local, "ctx", None)
    if active is not None:
        return active
    from greenpipe.store import default_home

    home = default_home()  # read each time: GREENPIPE_HOME may have changed since the last plain call
    detached = getattr(_local, "detached", None)
    if detached is None or detached.home != home:
        detached = StepContext(home=home)
        _local.detached = detached
    return detached


@contextlib.contextmanager
def activate(ctx: StepContext) -> Iterator[StepContext]:
    """Make `ctx` the current context for the duration of one step body."""
    previous = getattr(_local, "ctx", None)
    _local.ctx = ctx
    try:
        yield ctx
    finally:
        _local.ctx = previous

"""The meter of one rung of one trial: greenpipe's UsageMeter, reading the RSS of this process only.

A trial's rungs run in this process and start no child processes (every estimator in estimators.py fits with
n_jobs=1 or has no n_jobs), so there is no child whose memory to add. UsageMeter adds its children's RSS, and
psutil finds them by reading the parent of every process on the machine: 3 ms a call here, twice per rung (at its
start and its end), which was a third of bayes_tune's own cost per trial on rungs of tens of ms
(bench/bayes_tune_overhead.py). The step as a whole is still measured by the executor's UsageMeter, children
included.
"""

from __future__ import annotations

from greenpipe.ledger import UsageMeter

# a rung of a small model takes tens of ms: the meter's thread samples RSS 4 times a second, and the rung's RSS at
# its start and end is always taken
RSS_SAMPLE_S = 0.25


class RungMeter(UsageMeter):
    """CPU seconds, wall seconds and peak RSS of one rung run in this process."""

    def __init__(self) -> None:
        super().__init__(sample_s=RSS_SAMPLE_S)

    def _rss(self) -> int:
        return int(self._proc.memory_info().rss)

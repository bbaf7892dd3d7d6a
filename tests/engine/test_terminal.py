"""What the terminal and the job logs say: notices in greenpipe's voice, a readable lineage, quiet third-party logs."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from greenpipe.context import StepContext
from greenpipe.display import ProgressDisplay
from greenpipe.runner import StepResult

GE_IMPORT_AT_INFO = (
    "import logging; logging.basicConfig(level=logging.INFO)\n"  # as kfp's executor does before calling the step
    "from greenpipe.backends.kfp_runtime import run_step\n"
    "try:\n"
    "    run_step('no_such_module_for_the_test:step', {})\n"
    "except Exception:\n"
    "    pass\n"
    "import great_expectations\n"
)


def test_a_compile_that_falls_back_prints_one_notice_line(cli, tmp_path):
    proc = cli(
        "compile",
        "train",
        "--target",
        "sagemaker",
        "--out",
        str(tmp_path / "train.json"),
        "--image",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/greenpipe:0.1.0",
    )
    notes = [line for line in proc.stderr.splitlines() if line.startswith("greenpipe: note: step bayes_tune")]
    assert len(notes) == 1 and "one SageMaker Training job" in notes[0]
    assert "UserWarning" not in proc.stderr and "warnings.warn" not in proc.stderr
    assert proc.stderr.strip() == notes[0]


def test_show_names_what_each_output_was_made_from(cli):
    cli("run", "pipe.py:demo")
    text = cli("show", "latest").stdout
    lineage = text.split("lineage", 1)[1]
    assert re.search(r"^  scale\.out +[0-9a-f]{12}  <- data=make\.data$", lineage, re.M), lineage
    assert re.search(r"^  make\.data +[0-9a-f]{12}  <- \(no inputs\)$", lineage, re.M), lineage
    assert not re.search(r"[0-9a-f]{20}", lineage)  # no walls of digests; --json has them whole


def test_the_kfp_entry_point_keeps_third_party_info_logs_out_unless_asked():
    env = {k: v for k, v in os.environ.items() if k != "GREENPIPE_LOG_LEVEL"}
    quiet = subprocess.run([sys.executable, "-c", GE_IMPORT_AT_INFO], env=env, capture_output=True, text=True)
    assert "Skipping registering function" not in quiet.stderr
    asked = subprocess.run(
        [sys.executable, "-c", GE_IMPORT_AT_INFO],
        env={**env, "GREENPIPE_LOG_LEVEL": "INFO"},
        capture_output=True,
        text=True,
    )
    assert "Skipping registering function" in asked.stderr  # the same import does log at INFO when asked


PROGRESS_PIPE = """
from greenpipe import pipeline, step
from greenpipe.context import current


@step
def slow(trials: int = 3) -> None:
    best = 0.0
    for k in range(1, trials + 1):
        best = max(best, 0.4 + 0.1 * k)
        current().progress(k, trials, f"best {best:.1f}")


@pipeline
def progressing(trials: int = 3) -> None:
    slow(trials=trials)
"""


def test_a_long_step_reports_progress_as_log_lines_first_and_last(cli):
    (cli.cwd / "progress_pipe.py").write_text(PROGRESS_PIPE)
    err = cli("run", "progress_pipe.py:progressing").stderr
    lines = [line for line in err.splitlines() if line.startswith("[slow] ")]
    assert lines == ["[slow] 1 of 3, best 0.5", "[slow] 3 of 3, best 0.7"]  # the middle one is throttled


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_live_display_shows_progress_on_the_steps_line_and_logs_above_it():
    screen = _Terminal()
    display = ProgressDisplay(screen)
    ctx = StepContext(home=Path("."), task="bayes_tune", display=display)
    display.step_started("bayes_tune", 8, 11)
    ctx.progress(3, 12, "best accuracy 0.812")
    ctx.log("trial 3 pruned at rung 1")
    display.step_finished(StepResult("bayes_tune", "ran", "first run"), 8, 11)
    out = screen.getvalue()
    assert "\r\033[K[8/11] bayes_tune ... 3 of 12, best accuracy 0.812" in out
    # the log line is printed on a cleared line, then the live line is drawn again with the same progress
    assert "\r\033[K[bayes_tune] trial 3 pruned at rung 1\n\r\033[K[8/11] bayes_tune ... 3 of 12, best" in out
    assert "\r\033[K[8/11] bayes_tune: ran (" in out and out.endswith("first run\n")

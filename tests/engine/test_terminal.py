"""What the terminal and the job logs say: notices in greenpipe's voice, a readable lineage, quiet third-party logs."""

from __future__ import annotations

import os
import re
import subprocess
import sys

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

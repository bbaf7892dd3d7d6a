"""Throughput: drift_gate on 1M rows x 20 float columns (reference and batch, 320 MB), side by side with a plain
scipy ks_2samp loop and with Evidently, in the same run.

    nice -n 5 .venv/bin/python bench/drift_gate_throughput.py

Both frames are synthetic floats (a mix of normal, log-normal and uniform columns, 5 of 20 shifted by 0.2 sd in
the batch) written once to Parquet in a temp folder; the gate runs in a fresh process on those files (the time
includes reading the batch, importing great_expectations and validating the whole batch with it, the drift tests
and the report); Evidently 0.7.23's DataDriftPreset runs in its own venv (/work/venv-evidently, pandas < 3) on the
same files. The scipy baseline is what a user would write: read both Parquet files with pandas and call
scipy.stats.ks_2samp on each column, in a fresh process, timed from before reading. Peak memory is the gate
process's peak RSS above what it held before reading any data, divided by the 320 MB of float64 data in the two
frames. The machine is shared: wall and CPU times are both reported, with the load average.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from drift_gate_anchors import EVIDENTLY_PYTHON  # Evidently's venv, made as that module's docstring says

ROWS, COLUMNS = 1_000_000, 20
HERE = Path(__file__).resolve().parent


def make_frames(folder: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    makers = [lambda n: rng.normal(0, 1, n), lambda n: rng.lognormal(0, 0.5, n), lambda n: rng.uniform(0, 10, n)]
    reference = pd.DataFrame({f"f{i:02d}": makers[i % 3](ROWS) for i in range(COLUMNS)})
    current = pd.DataFrame({f"f{i:02d}": makers[i % 3](ROWS) for i in range(COLUMNS)})
    for i in range(5):
        column = f"f{i:02d}"
        current[column] += 0.2 * reference[column].std()
    reference.to_parquet(folder / "reference.parquet", index=False)
    current.to_parquet(folder / "current.parquet", index=False)


def child(folder: Path, what: str) -> None:
    """Runs in a fresh process: `--baseline` builds the baseline (untimed); `--gate` times the gate."""
    import time

    import psutil

    from greenpipe import Artifact, Dataset, Report
    from greenpipe.components.drift_gate import drift_baseline, drift_gate
    from greenpipe.ledger import UsageMeter

    if what == "--baseline":
        drift_baseline(Dataset(folder / "reference.parquet"), Artifact(folder / "baseline"))
        return
    if what == "--scipy":
        start, cpu = time.perf_counter(), time.process_time()
        import pandas as pd
        from scipy import stats

        reference = pd.read_parquet(folder / "reference.parquet")
        current = pd.read_parquet(folder / "current.parquet")
        p_values = {c: float(stats.ks_2samp(reference[c], current[c]).pvalue) for c in reference.columns}
        drifted = sum(p < 0.05 / len(p_values) for p in p_values.values())
        print(
            json.dumps({"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu, "drifted": drifted})
        )
        return
    before_mb = psutil.Process().memory_info().rss / 2**20
    start = time.perf_counter()
    with UsageMeter() as meter:
        decision = drift_gate(
            Dataset(folder / "current.parquet"),
            Artifact(folder / "baseline"),
            Artifact(folder / "decision.json"),
            Report(folder / "report.html"),
        )
    wall = time.perf_counter() - start
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": meter.cpu_s,
                "peak_mb": meter.peak_mb,
                "before_mb": before_mb,
                "drift_share": decision.drift_share,
                "quality_ok": decision.quality_ok,
            }
        )
    )


def main() -> None:
    sys.path.insert(0, str(HERE))
    from results_file import figure, write_results

    with tempfile.TemporaryDirectory(prefix="drift_gate_bench_") as tmp:
        folder = Path(tmp)
        make_frames(folder)
        subprocess.run([sys.executable, __file__, "--baseline", str(folder)], check=True)
        gate_run = subprocess.run(
            [sys.executable, __file__, "--gate", str(folder)], check=True, capture_output=True, text=True
        )
        ours = json.loads(gate_run.stdout.strip().splitlines()[-1])
        load = os.getloadavg()[0]
        scipy_run = subprocess.run(
            [sys.executable, __file__, "--scipy", str(folder)], check=True, capture_output=True, text=True
        )
        scipy_loop = json.loads(scipy_run.stdout.strip().splitlines()[-1])
        print(
            f"scipy ks_2samp loop: {scipy_loop['wall_s']:.2f} s wall, {scipy_loop['cpu_s']:.2f} s CPU, "
            f"{scipy_loop['drifted']} columns with p < 0.05/20"
        )
        data_mb = 2 * ROWS * COLUMNS * 8 / 2**20
        ratio = (ours["peak_mb"] - ours["before_mb"]) / data_mb
        print(
            f"drift_gate: {ours['wall_s']:.2f} s wall, {ours['cpu_s']:.2f} s CPU, peak {ours['peak_mb']:.0f} MB "
            f"(held {ours['before_mb']:.0f} MB before reading), drift share {ours['drift_share']:.2f}"
        )
        evidently = None
        if EVIDENTLY_PYTHON.exists():
            run = subprocess.run(
                [
                    str(EVIDENTLY_PYTHON),
                    str(HERE / "drift_gate_evidently_run.py"),
                    str(folder / "reference.parquet"),
                    str(folder / "current.parquet"),
                ],
                capture_output=True,
                text=True,
            )
            if run.returncode == 0:
                evidently = json.loads(run.stdout.strip().splitlines()[-1])
                print(
                    f"evidently DataDriftPreset: {evidently['wall_s']:.2f} s, peak {evidently['peak_mb']:.0f} MB, "
                    f"drifted {evidently['drifted_columns']}"
                )
            else:
                print("evidently failed:", run.stderr[-2000:])
        else:
            print(f"evidently is not installed at {EVIDENTLY_PYTHON}; drift_speed_vs_evidently is null")
    figures = [
        figure(
            "drift_1m_x20_s",
            round(ours["wall_s"], 3),
            "s",
            3,
            "lower",
            "goal of 3 s; 1M rows x 20 float columns, batch and reference, data-quality suite and report included; "
            f"{ours['cpu_s']:.1f} s CPU on 2 cores; load average {load:.1f} when the gate ran (the machine is shared)",
        ),
        figure(
            "drift_peak_mem_ratio",
            round(ratio, 3),
            "ratio",
            1.5,
            "lower",
            f"peak RSS above the idle process / {data_mb:.0f} MB of float64 data (reference + batch)",
        ),
        figure(
            "drift_speed_vs_scipy",
            round(scipy_loop["wall_s"] / ours["wall_s"], 2),
            "ratio",
            2,
            "higher",
            f"a scipy.stats.ks_2samp loop over the same columns, pandas read included, in the same run: "
            f"{scipy_loop['wall_s']:.2f} s wall ({scipy_loop['cpu_s']:.1f} s CPU) / the gate's wall time; CPU ratio "
            f"{scipy_loop['cpu_s'] / ours['cpu_s']:.2f}",
        ),
        figure(
            "drift_speed_vs_evidently",
            None if evidently is None else round(evidently["wall_s"] / ours["wall_s"], 2),
            "ratio",
            None,
            "higher",
            "Evidently 0.7.23 DataDriftPreset time on the same Parquet files (own venv) / drift_gate time"
            + ("" if evidently is None else f" ({evidently['wall_s']:.1f} s, peak {evidently['peak_mb']:.0f} MB)"),
        ),
    ]
    write_results("drift_gate_throughput", "nice -n 5 .venv/bin/python bench/drift_gate_throughput.py", figures)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] in ("--baseline", "--gate", "--scipy"):
        child(Path(sys.argv[2]), sys.argv[1])
    elif len(sys.argv) > 1:
        sys.exit(f"unknown arguments {sys.argv[1:]}; run without arguments")
    else:
        main()

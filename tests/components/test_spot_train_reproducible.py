"""spot_train gives the same bytes for the same inputs and seed, whatever the checkpoint timing, interruptions
or the machine's thread count (issue 10: two runs of `train` gave different models)."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from greenpipe import Dataset, Metrics, Model
from greenpipe.components.spot_train import spot_train
from greenpipe.components.spot_train import supervisor as supervisor_module
from greenpipe.context import StepContext, activate

os.environ.setdefault("OMP_NUM_THREADS", "1")  # OpenMP spin-waits badly on a shared 2-core machine

OVERTRAINED = {
    "estimator": "MLPClassifier",
    "estimator_params": {"hidden_layer_sizes": [128], "alpha": 0.0, "learning_rate_init": 0.01},
    "rules": [{"name": "Overtraining", "patience_validation": 5, "patience_train": 3}],
    "max_epochs": 60,
}


@pytest.fixture(scope="module")
def tiny_digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """60 training rows for a 128-unit MLP: it overfits within a few epochs, so a rule stops it."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    folder = tmp_path_factory.mktemp("digits")
    frame = load_digits(as_frame=True).frame
    frame.columns = [str(c) for c in frame.columns]
    train, val = train_test_split(frame, train_size=60, test_size=400, random_state=0, stratify=frame["target"])
    train.to_parquet(folder / "train.parquet", index=False)
    val.to_parquet(folder / "val.parquet", index=False)
    return str(folder / "train.parquet"), str(folder / "val.parquet")


def _outputs(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _run(folder: Path, data: tuple[str, str], **params) -> tuple[object, dict[str, str]]:
    train, val = data
    with activate(StepContext(home=folder / "home")):  # a fresh store each time
        result = spot_train(
            Dataset(train),
            Model(folder / "out" / "model"),
            Metrics(folder / "out" / "metrics.json"),
            target="target",
            validation=Dataset(val),
            **params,
        )
    return result, _outputs(folder / "out")


def test_a_stopped_job_keeps_the_same_model_whatever_the_checkpoint_timing(tmp_path: Path, tiny_digits):
    every, _ = first = _run(
        tmp_path / "every", tiny_digits, **OVERTRAINED, checkpoint_every=1, checkpoint_max_overhead=0, isolate=False
    )
    # checkpoints every 7 epochs and on a wall-clock timer: the best epoch is rarely one of them
    sparse = _run(
        tmp_path / "sparse",
        tiny_digits,
        **OVERTRAINED,
        checkpoint_every=7,
        checkpoint_every_s=0.05,
        checkpoint_max_overhead=0.5,
        isolate=False,
    )
    assert every.stopped_early and every.rule == "Overtraining" and every.epochs < 60
    assert first == sparse  # same epochs, same rule, byte-identical model.pkl, model.json and metrics.json


def test_an_interrupted_job_gives_the_same_bytes_as_an_uninterrupted_one(
    tmp_path: Path, tiny_digits, monkeypatch: pytest.MonkeyPatch
):
    reference = _run(tmp_path / "reference", tiny_digits, **OVERTRAINED, checkpoint_max_overhead=0, isolate=True)
    sent: list[int] = []
    starts: list[int] = []
    real_popen = supervisor_module.subprocess.Popen

    def popen_then_reclaim(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        starts.append(proc.pid)
        if len(starts) == 1:  # the first worker gets a SIGTERM once it has trained a few epochs

            def reclaim() -> None:
                folder = Path(args[0][-1]).parent.parent / "checkpoints"
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and len(list(folder.glob("ckpt-*.pkl"))) < 2:
                    time.sleep(0.01)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    sent.append(proc.pid)

            threading.Thread(target=reclaim, daemon=True).start()
        return proc

    monkeypatch.setattr(supervisor_module.subprocess, "Popen", popen_then_reclaim)
    interrupted = _run(tmp_path / "interrupted", tiny_digits, **OVERTRAINED, checkpoint_max_overhead=0, isolate=True)
    assert sent and len(starts) == 2, "the worker was not reclaimed and restarted"
    assert interrupted == reference


def test_the_machine_thread_count_does_not_change_the_model(tmp_path: Path, tiny_digits):
    """In process, threadpoolctl pins BLAS and OpenMP (HistGradientBoosting sums gradients over OpenMP threads)."""
    from threadpoolctl import threadpool_limits

    runs = []
    for ambient in (1, 2):
        with threadpool_limits(limits=ambient):
            runs.append(
                _run(
                    tmp_path / f"threads-{ambient}",
                    tiny_digits,
                    estimator="HistGradientBoostingClassifier",
                    estimator_params={"max_iter_per_epoch": 5},
                    max_epochs=4,
                    rules=[],
                    isolate=False,
                )
            )
    assert runs[0] == runs[1]


def test_a_worker_uses_the_steps_thread_count_not_the_machines(
    tmp_path: Path, tiny_digits, monkeypatch: pytest.MonkeyPatch
):
    """A worker process sizes every pool (BLAS, OpenMP, torch) from `threads` before the libraries start."""
    pytest.importorskip("torch")
    runs = []
    for ambient in ("1", "2"):
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            monkeypatch.setenv(name, ambient)
        runs.append(
            _run(
                tmp_path / f"threads-{ambient}",
                tiny_digits,
                estimator="TorchMLPClassifier",
                estimator_params={"hidden_layer_sizes": [64]},
                max_epochs=4,
                rules=[],
                isolate=True,
            )
        )
    assert runs[0] == runs[1]

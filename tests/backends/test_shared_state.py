"""State that outlives a run is shared through GREENPIPE_SHARED: a second job with its own empty store finds what
the first one kept (rows and the objects they pin), one step at a time under a lease, and a job that lost its
lease cannot overwrite the next holder's writes. Each test runs against a folder, moto's S3 server and
google-cloud-storage talking to a GCS emulator written for these tests."""

import os
import subprocess
import sys
import threading
import time

import pytest

from greenpipe.digest import digest_path
from greenpipe.object_store import object_store
from greenpipe.shared_lease import SharedStateBusy
from greenpipe.shared_state import (
    SharedStateConflict,
    SharedStateMissing,
    compiled_location,
    shared_folder,
    step_session,
)
from greenpipe.store import Store

NOTES = "CREATE TABLE IF NOT EXISTS notes (k TEXT PRIMARY KEY, v TEXT NOT NULL)"


@pytest.fixture(params=["folder", "s3", "gcs"])
def location(request, tmp_path, monkeypatch):
    """A shared location: a folder (kfp.local), a bucket prefix on moto's S3 server over HTTP, or a GCS prefix
    through google-cloud-storage talking to this suite's GCS emulator (tests/backends/gcs_emulator.py)."""
    if request.param == "folder":
        return str(tmp_path / "shared")
    if request.param == "gcs":
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", request.getfixturevalue("gcs_emulator").url)
        return f"gs://gp-shared/{tmp_path.name}/shared"  # a fresh prefix per test
    aws = request.getfixturevalue("aws")
    assert aws["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    return "s3://gp-artifacts/team/shared"


def write_note(store, key, value):
    store.declare_tables(["notes"], NOTES, shared_for="the notes")
    with store.transaction() as db:
        db.execute("INSERT OR REPLACE INTO notes VALUES (?,?)", (key, value))


def notes(store):
    store.declare_tables(["notes"], NOTES, shared_for="the notes")
    return {r["k"]: r["v"] for r in store.query("SELECT k, v FROM notes")}


def test_a_second_job_with_an_empty_store_finds_the_rows_and_the_pinned_object(tmp_path, location):
    model = tmp_path / "job-a-output" / "model"
    model.mkdir(parents=True)
    (model / "model.pkl").write_bytes(b"weights")
    digest = digest_path(model)
    with step_session("register", {"GREENPIPE_SHARED": location}) as session:
        store = Store(tmp_path / "home-a").create()
        write_note(store, "champion", digest)
        store.pin(digest, "notes:champion")  # the model is only in the job's output folder, not in its store
        session.finish({digest: str(model)})

    with step_session("champion", {"GREENPIPE_SHARED": location}) as session:
        store = Store(tmp_path / "home-b").create()
        assert notes(store) == {"champion": digest}
        fetched = store.object_path(digest)
        assert digest_path(fetched) == digest and (fetched / "model.pkl").read_bytes() == b"weights"
        session.finish({})


def test_a_second_writer_keeps_the_first_writers_rows(tmp_path, location):
    for job, (key, value) in enumerate([("a", "1"), ("b", "2")]):
        with step_session(f"job{job}", {"GREENPIPE_SHARED": location}) as session:
            write_note(Store(tmp_path / f"home-{job}").create(), key, value)
            session.finish({})
    with step_session("reader", {"GREENPIPE_SHARED": location}):
        assert notes(Store(tmp_path / "home-reader").create()) == {"a": "1", "b": "2"}


def test_a_shared_folder_travels_between_jobs(tmp_path, location):
    with step_session("tune", {"GREENPIPE_SHARED": location}) as session:
        folder = shared_folder(tmp_path / "home-a", "studies", "the studies")
        (folder / "journal.log").write_text("trial 1\n")
        session.finish({})
    with step_session("tune", {"GREENPIPE_SHARED": location}) as session:
        folder = shared_folder(tmp_path / "home-b", "studies", "the studies")
        assert (folder / "journal.log").read_text() == "trial 1\n"
        (folder / "journal.log").write_text("trial 1\ntrial 2\n")
        session.finish({})
    with step_session("tune", {"GREENPIPE_SHARED": location}):
        assert (shared_folder(tmp_path / "home-c", "studies", "x") / "journal.log").read_text() == "trial 1\ntrial 2\n"


def test_a_job_waits_for_the_lease_and_names_its_holder(tmp_path, location):
    env = {"GREENPIPE_SHARED": location, "GREENPIPE_SHARED_WAIT_S": "0.5"}
    with step_session("register", env):
        write_note(Store(tmp_path / "home-a").create(), "a", "1")  # holds the lease until the block ends
        with pytest.raises(SharedStateBusy, match=r"lease .*lease.json is held by register@"):
            with step_session("champion", env):
                notes(Store(tmp_path / "home-b").create())


def test_a_job_that_lost_its_lease_cannot_overwrite_the_next_holders_writes(tmp_path, location):
    env = {"GREENPIPE_SHARED": location, "GREENPIPE_SHARED_LEASE_S": "0.4"}
    with step_session("stalled", env) as stalled:
        write_note(Store(tmp_path / "home-a").create(), "who", "stalled")
        stalled.lease._stop.set()  # the job stops being heard from (a frozen node): its lease is not renewed
        stalled.lease._renewer.join()
        time.sleep(0.6)
        with step_session("next", env) as session:  # takes over the expired lease
            write_note(Store(tmp_path / "home-b").create(), "who", "next")
            session.finish({})
        with pytest.raises(SharedStateConflict, match="NOT written, and the other job's are kept"):
            stalled.finish({})
    with step_session("reader", {"GREENPIPE_SHARED": location}):
        assert notes(Store(tmp_path / "home-c").create()) == {"who": "next"}


def test_two_jobs_at_once_each_keep_their_rows(tmp_path, location):
    """Concurrent writers serialise on the lease: none loses the other's row."""
    errors = []

    def job(n):
        try:
            with step_session(f"job{n}", {"GREENPIPE_SHARED": location}) as session:
                write_note(Store(tmp_path / f"home-{n}").create(), f"k{n}", str(n))
                session.finish({})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with step_session("reader", {"GREENPIPE_SHARED": location}):
        assert notes(Store(tmp_path / "home-r").create()) == {f"k{n}": str(n) for n in range(4)}


def test_a_worker_thread_of_the_step_uses_its_session(tmp_path, location):
    with step_session("tune", {"GREENPIPE_SHARED": location}) as session:
        worker = threading.Thread(target=write_note, args=(Store(tmp_path / "home-a").create(), "from", "worker"))
        worker.start()
        worker.join()
        session.finish({})
    with step_session("reader", {"GREENPIPE_SHARED": location}):
        assert notes(Store(tmp_path / "home-b").create()) == {"from": "worker"}


def test_a_step_needing_shared_state_with_none_configured_fails_with_one_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENPIPE_") and k != "PYTHONPATH"}
    env["GREENPIPE_HOME"] = str(tmp_path / "job-home")
    proc = subprocess.run(
        [sys.executable, "-m", "greenpipe.run", "greenpipe.pipelines.rainfall:champion",
         "--output", f"model={tmp_path / 'model'}", "--output", f"baseline={tmp_path / 'baseline'}"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "step champion needs state shared between runs (the model registry)" in proc.stderr
    assert "GREENPIPE_SHARED=s3://BUCKET/PREFIX" in proc.stderr
    with pytest.raises(SharedStateMissing):
        with step_session("register", {}):
            Store(tmp_path / "h").create().declare_tables(["notes"], NOTES, shared_for="the notes")


def test_a_shared_location_the_job_cannot_reach_is_one_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GREENPIPE_", "AWS_")) and k != "PYTHONPATH"}
    env.update(GREENPIPE_HOME=str(tmp_path / "job-home"), GREENPIPE_SHARED="s3://no-such-bucket/greenpipe/shared")
    env.update(AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", HOME=str(tmp_path))  # no credentials
    proc = subprocess.run(
        [sys.executable, "-m", "greenpipe.run", "greenpipe.pipelines.rainfall:champion",
         "--output", f"model={tmp_path / 'model'}", "--output", f"baseline={tmp_path / 'baseline'}"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "cannot reach its shared location s3://no-such-bucket/greenpipe/shared (NoCredentialsError" in proc.stderr


def test_outside_a_container_the_store_is_the_state(tmp_path):
    store = Store(tmp_path / "home").create()
    write_note(store, "a", "1")  # no session: nothing to pull, push or require
    assert notes(store) == {"a": "1"}
    with step_session("register", {"GREENPIPE_SHARED": "home"}):
        assert notes(store) == {"a": "1"}  # `home`: this job's store is the shared state (a mounted volume)


def test_the_location_is_checked_when_compiled_and_defaults_next_to_the_root(tmp_path, monkeypatch):
    monkeypatch.delenv("GREENPIPE_SHARED", raising=False)
    assert compiled_location(None) is None
    assert compiled_location(None, "s3://bucket/pipelines") == "s3://bucket/pipelines/shared"
    assert compiled_location("gs://bucket/team") == "gs://bucket/team"
    assert compiled_location("relative/shared") == str(tmp_path.cwd() / "relative" / "shared")
    monkeypatch.setenv("GREENPIPE_SHARED", "s3://from-env/x")
    assert compiled_location(None, "s3://bucket/pipelines") == "s3://from-env/x"
    with pytest.raises(Exception, match="names no bucket"):
        compiled_location("s3:///x")
    with pytest.raises(Exception, match="use s3://BUCKET/PREFIX"):
        compiled_location("ftp://host/x")


def test_gcs_without_its_library_is_one_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.cloud.storage", None)  # as where google-cloud-storage is absent
    monkeypatch.delattr("google.cloud.storage", raising=False)  # (an earlier test imported it)
    with pytest.raises(Exception, match=r"gs://bucket: reaching Google Cloud Storage needs google-cloud-storage"):
        object_store("gs://bucket/team/shared")


def test_tables_a_component_keeps_to_itself_need_no_shared_location(tmp_path):
    """Store.declare_tables with shared_for=None (a tuner's measured trials, on the ledger's side) works in a
    container step with no GREENPIPE_SHARED; the same tables declared as shared state ask for the setting."""
    store = Store(tmp_path / "h").create()
    with step_session("bayes_tune", {}):
        store.declare_tables(["notes"], NOTES, shared_for=None)
        with store.transaction() as db:
            db.execute("INSERT INTO notes VALUES ('k', 'v')")
        with pytest.raises(SharedStateMissing, match="the notes"):
            store.declare_tables(["notes"], NOTES, shared_for="the notes")
    assert [r["v"] for r in store.query("SELECT v FROM notes")] == ["v"]

"""The store is never fooled by a restored mtime, never writes outside itself, and fails in one clear message."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from cli_runs import object_of, plan_of, statuses

from greenpipe.errors import StoreError
from greenpipe.store import Store

PIPE = "pipe.py:demo"


def _rewrite_keeping_mtime(path, text):
    st = os.stat(path)
    os.chmod(path, 0o644)
    path.write_text(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == st.st_size and os.stat(path).st_mtime_ns == st.st_mtime_ns


def test_input_rewritten_with_its_old_mtime_is_not_a_stale_hit(cli, project):
    src = project / "numbers.json"
    src.write_text("[1, 2, 3]")
    cli.json("run", "pipe.py:from_file", "--param", f"src={src}")
    _rewrite_keeping_mtime(src, "[1, 2, 4]")  # `cp -p` of another version, a restored backup
    plan = plan_of(cli.json("plan", "pipe.py:from_file", "--param", f"src={src}"))
    assert plan["scale"] == ("run", "input 'data' changed")


def test_stored_object_edited_with_its_old_mtime_is_caught(cli):
    run = cli.json("run", PIPE)
    path = object_of(cli, run, "scale", "out")
    assert path.read_text() == "[0, 2, 4, 6, 8]"
    _rewrite_keeping_mtime(path, "[0, 2, 4, 6, 9]")
    action, reason = plan_of(cli.json("plan", PIPE))["scale"]
    assert action == "run" and "corrupt" in reason


def test_stored_objects_are_read_only(cli):
    run = cli.json("run", PIPE)
    assert os.stat(object_of(cli, run, "scale", "out")).st_mode & 0o222 == 0


def test_verify_rehashes_everything_and_sets_damage_aside(cli):
    run = cli.json("run", PIPE)
    assert cli.json("verify") == {"checked": 3, "corrupt": [], "missing": [], "ok": True}
    path = object_of(cli, run, "scale", "out")
    os.chmod(path, 0o644)
    path.write_text("[1]")
    report = cli("verify", check=False)
    assert report.returncode == 1 and "1 corrupt" in report.stdout
    assert not path.exists() and any((cli.home / "tmp" / "corrupt").iterdir())  # kept aside, not deleted
    again = cli.json("run", PIPE)
    assert statuses(again)["scale"] == "ran"
    assert json.loads(object_of(cli, again, "scale", "out").read_text()) == [0, 2, 4, 6, 8]


def test_symlinked_output_is_stored_as_a_copy_and_its_target_untouched(cli, project, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text("[1, 2]")
    os.chmod(outside, 0o664)
    pipe = project / "pipe.py"
    pipe.write_text(
        pipe.read_text()
        + "\n\n@step\ndef linked(out: Output[Dataset], target: str = '') -> None:\n"
        + "    os.symlink(target, out.path)\n\n\n@pipeline\ndef links(target: str = '') -> None:\n"
        + "    linked(target=target)\n"
    )
    run = cli.json("run", "pipe.py:links", "--param", f"target={outside}")
    stored = object_of(cli, run, "linked", "out")
    assert not stored.is_symlink() and stored.read_text() == "[1, 2]"
    assert os.stat(outside).st_mode & 0o777 == 0o664  # never chmod-ed
    assert cli("gc", "--older-than", "0s").returncode == 0
    assert outside.read_text() == "[1, 2]"


def test_store_that_is_a_file_is_one_message(cli, tmp_path):
    home = tmp_path / "home-file"
    home.write_text("")
    proc = cli("--home", str(home), "run", PIPE, check=False)
    assert proc.returncode == 2 and "is a file, not a folder" in proc.stderr and "Traceback" not in proc.stderr


def test_corrupt_index_is_one_message_that_says_how_to_recover(cli, tmp_path):
    home = tmp_path / "broken"
    home.mkdir()
    (home / "greenpipe.db").write_bytes(b"not sqlite at all" * 10)
    proc = cli("--home", str(home), "runs", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "corrupt index" in proc.stderr and ".corrupt" in proc.stderr and "recover" in proc.stderr
    assert (home / "greenpipe.db").read_bytes() == b"not sqlite at all" * 10  # nothing touched


def test_unwritable_store_is_one_message(tmp_path, monkeypatch):
    # root ignores permission bits, so the refusal a read-only mount gives is simulated at mkdir
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("pathlib.Path.mkdir", refuse)
    with pytest.raises(StoreError, match="cannot be written \\(Permission denied\\): make it writable"):
        Store(tmp_path / "ro").create()


@pytest.mark.parametrize("command", [["report", "latest"], ["compile", PIPE, "--target", "kfp"]])
def test_out_that_is_a_folder_is_one_message_and_writes_nothing(cli, project, command):
    cli("run", PIPE)
    folder = project / "outdir"
    folder.mkdir()
    proc = cli(*command, "--out", str(folder), check=False)
    assert proc.returncode == 2 and "is a folder" in proc.stderr and "Traceback" not in proc.stderr
    assert list(folder.iterdir()) == [] and not list(project.glob("*.tmp"))


def test_a_store_from_before_a_column_was_added_gains_it_on_open(cli):
    cli("run", PIPE)
    db = sqlite3.connect(cli.home / "greenpipe.db")
    db.execute("ALTER TABLE executions DROP COLUMN varies")  # as a store made by the previous release
    db.commit()
    db.close()
    assert statuses(cli.json("run", PIPE, "--force", "make"))["make"] == "ran"
    assert cli.json("show", "latest")["steps"][0]["varies"] is None

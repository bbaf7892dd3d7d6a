"""User errors print one clear message, exit 2, show no traceback and leave the store untouched."""

import pytest


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "nope"], "pipeline 'nope' is not a reference pipeline"),
        (["run", "missing.py:demo"], "pipeline file 'missing.py' does not exist"),
        (["run", ".:demo"], "pipeline file '.' is a directory: pass the Python file in it"),
        (["run", "."], "pipeline '.' is a directory: pass a Python file in it, as path/to/file.py:function"),
        (["run", "pipe.py"], "pipeline 'pipe.py' is a file: name the pipeline in it, as path/to/file.py:function"),
        (["run", "pipe.py:nothing"], "has no function 'nothing'"),
        (["run", "pipe.py:demo", "--param", "n=five"], "param n='five' is not an int"),
        (["run", "pipe.py:demo", "--param", "colour=red"], "pipeline demo has no param 'colour'"),
        (["run", "pipe.py:demo", "--param", "n"], "is not NAME=VALUE"),
        (["run", "pipe.py:demo", "--force", "bogus"], "step 'bogus' is not in pipeline demo"),
        (
            ["run", "pipe.py:from_file", "--param", "src=/no/such/file.csv"],
            "input src='/no/such/file.csv' does not exist",
        ),
        (
            ["run", "pipe.py:demo", "--region", "mars-1"],
            "region='mars-1' is not in greenpipe's grid-intensity table",
        ),
        (["gc", "--older-than", "a while"], "--older-than='a while' is not a duration"),
        (["show", "no-such-run"], "run 'no-such-run' is not in"),
    ],
)
def test_user_error_exits_2_with_a_clear_message_and_no_store(cli, args, expected):
    proc = cli(*args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (cli.home / "greenpipe.db").exists()


def test_malformed_pipeline_file_is_a_user_error(cli, project):
    (project / "broken.py").write_text("def broken(:\n")
    proc = cli("run", "broken.py:broken", check=False)
    assert proc.returncode == 2 and "syntax error at line 1" in proc.stderr and "Traceback" not in proc.stderr


def test_invalid_cache_duration_is_refused_when_the_step_is_declared():
    from greenpipe import CachePolicy
    from greenpipe.errors import DurationError

    with pytest.raises(DurationError, match="CachePolicy.expire_after='30 days'"):
        CachePolicy(expire_after="30 days")
    assert CachePolicy(expire_after="P1DT12H").expire_after_s == 129600


def test_failing_step_fails_the_run_keeps_upstream_results_and_skips_downstream(cli, project):
    (project / "failing.py").write_text(
        "from greenpipe import Dataset, Output, pipeline, step\n\n\n"
        "@step\ndef good(out: Output[Dataset]) -> None:\n    open(out.path, 'w').write('1')\n\n\n"
        "@step\ndef bad(data: Dataset, out: Output[Dataset]) -> None:\n"
        "    raise ValueError('bad data in column x')\n\n\n"
        "@step\ndef after(data: Dataset, out: Output[Dataset]) -> None:\n    open(out.path, 'w').write('2')\n\n\n"
        "@pipeline\ndef failing() -> None:\n    g = good()\n    b = bad(data=g.out)\n    after(data=b.out)\n"
    )
    proc = cli("run", "failing.py:failing", "--json", check=False)
    assert proc.returncode == 1
    import json

    doc = json.loads(proc.stdout)
    by_name = {s["name"]: s for s in doc["steps"]}
    assert by_name["bad"]["status"] == "failed" and "ValueError: bad data in column x" in by_name["bad"]["error"]
    assert by_name["after"]["status"] == "skipped" and by_name["after"]["reason"] == "upstream 'bad' failed"
    assert cli.json("run", "failing.py:failing", check=False)["steps"][0]["status"] == "cached"


def test_pipeline_parameter_nested_in_a_dict_param_is_a_clear_error(cli, project):
    (project / "nested.py").write_text(
        "from greenpipe import Dataset, Output, pipeline, step\n\n\n"
        "@step\ndef use(out: Output[Dataset], options: dict | None = None) -> None:\n"
        "    open(out.path, 'w').write(str(options))\n\n\n"
        "@pipeline\ndef nested(window: int = 3) -> None:\n    use(options={'window': window})\n"
    )
    proc = cli("run", "nested.py:nested", check=False)
    assert proc.returncode == 2 and "param options holds a pipeline parameter inside a list or dict" in proc.stderr
    assert "Traceback" not in proc.stderr

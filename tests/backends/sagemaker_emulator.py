"""SageMaker's job execution emulated on this machine: each job of a compiled definition (or one standalone
request) run as a subprocess on a fresh /opt/ml root, in the definition's order.

S3 is either local folders under `tmp/s3` (FolderS3) or moto's S3 server over HTTP (MotoS3); the jobs' commands
run with this Python and the test's code on the path, or with the python of a fresh virtualenv holding only a
greenpipe wheel (`fresh_venv_with_greenpipe`), as an image would.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


class MissingProperty(AssertionError):
    """A definition reads a step property that SageMaker would not have for that step."""


def _split(uri: str) -> tuple[str, str]:
    assert uri.startswith("s3://"), uri
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


class FolderS3:
    """S3 as folders: s3://bucket/key is `root/bucket/key`."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, uri: str) -> Path:
        bucket, key = _split(uri)
        return self.root / bucket / key

    def download(self, uri: str, local: Path) -> None:
        """An S3Prefix input: every object under the prefix, or the one object the URI names, into `local`."""
        source = self.path(uri)
        if source.is_dir():
            shutil.copytree(source, local)
        else:
            local.mkdir(parents=True)
            shutil.copyfile(source, local / source.name)

    def upload(self, local: Path, uri: str) -> None:
        target = self.path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(local, target) if local.is_dir() else shutil.copyfile(local, target)

    def fetch(self, uri: str, local: Path) -> Path:
        return self.path(uri)

    def job_environment(self, key: str, value: str) -> str:
        # the shared state, in the folder standing for S3 (moto needs no such mapping: the jobs reach its server)
        return str(self.path(value)) if key == "GREENPIPE_SHARED" and value.startswith("s3://") else value


class MotoS3:
    """S3 as moto's server over HTTP (the `aws` fixture's endpoint and credentials are in the environment)."""

    def __init__(self):
        import boto3

        self.client = boto3.client("s3")

    def download(self, uri: str, local: Path) -> None:
        bucket, prefix = _split(uri)
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                relative = obj["Key"][len(prefix) :].lstrip("/") or obj["Key"].rsplit("/", 1)[-1]
                target = local / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                self.client.download_file(bucket, obj["Key"], str(target))

    def upload(self, local: Path, uri: str) -> None:
        bucket, key = _split(uri)
        if local.is_file():
            self.client.upload_file(str(local), bucket, key)
            return
        for file in sorted(p for p in local.rglob("*") if p.is_file()):
            self.client.upload_file(str(file), bucket, f"{key}/{file.relative_to(local).as_posix()}")

    def fetch(self, uri: str, local: Path) -> Path:
        """The object or prefix downloaded to `local` (a file, or a folder for a prefix)."""
        bucket, key = _split(uri)
        if self.client.list_objects_v2(Bucket=bucket, Prefix=key + "/").get("KeyCount", 0):
            self.download(uri + "/", local)
            return local
        local.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(bucket, key, str(local))
        return local

    def job_environment(self, key: str, value: str) -> str:
        return value


class SageMakerEmulator:
    """Runs a compiled definition's jobs the way SageMaker would, as subprocesses on temporary /opt/ml roots.

    Each job gets a fresh root (a new container): its inputs are downloaded into the /opt/ml folders the job's
    request names, its command is the request's ContainerEntrypoint and arguments, and its outputs are uploaded
    where SageMaker would put them (a Training job's /opt/ml/model as model.tar.gz under
    S3OutputPath/<job name>/output/). A step property is only readable once a step of the right type has run and
    set it, so a definition that reads a property its step type lacks fails here as it would on SageMaker.
    Condition steps evaluate their JsonGet on the property file and run IfSteps or ElseSteps.

    Args:
        s3: FolderS3 (default, under tmp/s3) or MotoS3.
        python: the container's python; the default is this one, with this folder on PYTHONPATH (the image
            holds the user's code: here demo_steps.py); another (a fresh venv's) runs without it.
        env: more environment for every job (the moto endpoint and credentials).
    """

    def __init__(self, tmp: Path, definition: dict, overrides: dict | None = None, *, s3=None, python=None, env=None):
        self.tmp = tmp
        self.s3 = s3 or FolderS3(tmp / "s3")
        self.python = python or sys.executable
        self.env = dict(env or {})
        if python is None:
            self.env["PYTHONPATH"] = str(HERE)
        self.params = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
        self.params.update(overrides or {})
        self.properties: dict[str, str] = {}  # "Steps.x.ModelArtifacts.S3ModelArtifacts" -> value
        self.property_files: dict[str, str] = {}  # "Steps.x.PropertyFiles.values" -> S3 URI of the file
        self.status: dict[str, str] = {}  # step name -> ran | skipped
        self.procs: dict[str, subprocess.CompletedProcess] = {}
        self.steps = definition["Steps"]

    def run(self) -> None:
        self._run_all(self.steps)

    def _run_all(self, steps: list[dict]) -> None:
        for item in steps:
            {"Processing": self.processing, "Training": self.training, "Condition": self.condition}[item["Type"]](item)

    def _skip_all(self, steps: list[dict]) -> None:
        for item in steps:
            self.status[item["Name"]] = "skipped"
            if item["Type"] == "Condition":
                self._skip_all(item["Arguments"]["IfSteps"] + item["Arguments"]["ElseSteps"])

    def resolve(self, value):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        if "Std:Join" in value:
            return value["Std:Join"]["On"].join(self.resolve(v) for v in value["Std:Join"]["Values"])
        if "Std:JsonGet" in value:
            ref = value["Std:JsonGet"]["PropertyFile"]["Get"]
            assert ref in self.property_files, f"no step has set the property file {ref}"
            document = json.loads(self._read(self.property_files[ref]))
            for part in value["Std:JsonGet"]["Path"].split("."):
                document = document[part]
            return document
        ref = value["Get"]
        if ref == "Execution.PipelineExecutionId":
            return "exec-1"
        if ref.startswith("Parameters."):
            return str(self.params[ref.split(".", 1)[1]])
        if ref not in self.properties:
            raise MissingProperty(f"the definition reads {ref}, which no step that ran has set")
        return self.properties[ref]

    def _read(self, uri: str) -> bytes:
        return self.s3.fetch(uri, self.tmp / "read" / uri[len("s3://") :]).read_bytes()

    def _container(self, item: dict, spec: dict, root: Path) -> subprocess.CompletedProcess:
        command = [self.python if c == "python" else c for c in spec["ContainerEntrypoint"]]
        command += [self.resolve(a) for a in spec.get("ContainerArguments", [])]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("GREENPIPE_")}
        env.update(self.env, GREENPIPE_SM_ROOT=str(root), GREENPIPE_HOME=str(root / "home"))
        for key, value in item["Arguments"].get("Environment", {}).items():
            value = self.s3.job_environment(key, self.resolve(value))
            # a container path: on this machine it lives under the job's root
            env[key] = str(root / value.lstrip("/")) if value.startswith("/opt/ml") else value
        work = root / "work"
        work.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{item['Name']}: {proc.stderr}"
        self.procs[item["Name"]] = proc
        self.status[item["Name"]] = "ran"
        return proc

    def processing(self, item: dict) -> None:
        args, name = item["Arguments"], item["Name"]
        root = self.tmp / "jobs" / name
        for entry in args.get("ProcessingInputs", []):
            self.s3.download(self.resolve(entry["S3Input"]["S3Uri"]), root / entry["S3Input"]["LocalPath"].lstrip("/"))
        self._container(item, args["AppSpecification"], root)
        uploaded = {}
        for entry in args["ProcessingOutputConfig"]["Outputs"]:
            uri = self.resolve(entry["S3Output"]["S3Uri"])
            self.s3.upload(root / entry["S3Output"]["LocalPath"].lstrip("/"), uri)
            uploaded[entry["OutputName"]] = uri
            self.properties[f"Steps.{name}.ProcessingOutputConfig.Outputs['{entry['OutputName']}'].S3Output.S3Uri"] = (
                uri
            )
        for prop in item.get("PropertyFiles", []):
            self.property_files[f"Steps.{name}.PropertyFiles.{prop['PropertyFileName']}"] = (
                f"{uploaded[prop['OutputName']]}/{prop['FilePath']}"
            )

    def training(self, item: dict) -> None:
        args, name = item["Arguments"], item["Name"]
        root = self.tmp / "jobs" / name
        job_name = f"pipelines-exec-1-{name.replace('_', '-')}"
        for channel in args.get("InputDataConfig", []):
            uri = self.resolve(channel["DataSource"]["S3DataSource"]["S3Uri"])
            self.s3.download(uri, root / "opt/ml/input/data" / channel["ChannelName"])
        config = root / "opt/ml/input/config"
        config.mkdir(parents=True)
        hyperparameters = {k: self.resolve(v) for k, v in args.get("HyperParameters", {}).items()}
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        (root / "opt/ml/model").mkdir(parents=True)
        self._container(item, args["AlgorithmSpecification"], root)
        uri = self.resolve(args["OutputDataConfig"]["S3OutputPath"]).rstrip("/") + f"/{job_name}/output"
        for archive, folder in (("model.tar.gz", "opt/ml/model"), ("output.tar.gz", "opt/ml/output/data")):
            packed = root / archive
            with tarfile.open(packed, "w:gz") as tar:
                for entry in sorted((root / folder).iterdir()) if (root / folder).exists() else []:
                    tar.add(entry, arcname=entry.name)
            self.s3.upload(packed, f"{uri}/{archive}")
        self.properties[f"Steps.{name}.ModelArtifacts.S3ModelArtifacts"] = f"{uri}/model.tar.gz"
        self.properties[f"Steps.{name}.TrainingJobName"] = job_name

    def condition(self, item: dict) -> None:
        args = item["Arguments"]
        holds = all(self.holds(c) for c in args["Conditions"])
        self.status[item["Name"]] = "ran"
        self._run_all(args["IfSteps"] if holds else args["ElseSteps"])
        self._skip_all(args["ElseSteps"] if holds else args["IfSteps"])

    def holds(self, cond: dict) -> bool:
        if cond["Type"] == "Not":
            return not self.holds(cond["Condition"])
        if cond["Type"] == "Or":
            return any(self.holds(c) for c in cond["Conditions"])
        left, right = (self.operand(cond[k]) for k in ("LeftValue", "RightValue"))
        return {
            "Equals": left == right,
            "GreaterThan": left > right,
            "GreaterThanOrEqualTo": left >= right,
            "LessThan": left < right,
            "LessThanOrEqualTo": left <= right,
        }[cond["Type"]]

    def operand(self, value):
        """A Condition's operand as SageMaker reads it (a property file's JSON path, a step property, a value)."""
        if isinstance(value, dict) and ("Get" in value or "Std:Join" in value):
            text = self.resolve(value)
            return json.loads(text) if re.fullmatch(r"-?[0-9.eE+-]+|true|false", text) else text
        return self.resolve(value) if isinstance(value, dict) else value

    def output_path(self, step: str, output: str) -> Path:
        """Where a step's output artifact landed (a file, or a folder for a folder output), unpacked from
        model.tar.gz for a Training step."""
        key = f"Steps.{step}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri"
        if key in self.properties:
            return self.s3.fetch(self.properties[key], self.tmp / "downloaded" / step) / output
        return self._unpacked(step, "model.tar.gz") / output

    def output_bytes(self, step: str, output: str) -> bytes:
        return self.output_path(step, output).read_bytes()

    def ledger(self, step: str) -> dict:
        key = f"Steps.{step}.ProcessingOutputConfig.Outputs['greenpipe'].S3Output.S3Uri"
        if key in self.properties:
            return json.loads(self._read(self.properties[key] + "/ledger.json"))
        return json.loads((self._unpacked(step, "output.tar.gz") / "ledger.json").read_text())

    def _unpacked(self, step: str, archive: str) -> Path:
        model = self.properties[f"Steps.{step}.ModelArtifacts.S3ModelArtifacts"]
        uri = model.rsplit("/", 1)[0] + "/" + archive
        target = self.tmp / "unpacked" / step / archive
        if not target.exists():
            local = self.s3.fetch(uri, self.tmp / "archives" / step / archive)
            with tarfile.open(local) as tar:
                tar.extractall(target, filter="data")
        return target


def fresh_venv_with_greenpipe(tmp: Path) -> str:
    """A new virtualenv with greenpipe installed from a wheel built from this checkout (not editable), and
    nothing of the user's: its third-party libraries are this environment's, reached by a .pth line (no
    network here to install them), which loads no editable-install hook. Returns its python."""
    import site
    import venv

    wheels = tmp / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)]
    subprocess.run([*build, str(Path(__file__).resolve().parents[2])], check=True, capture_output=True)
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = str(env_dir / "bin" / "python")
    wheel = next(wheels.glob("greenpipe-*.whl"))
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(pip, check=True, capture_output=True)
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(purelib) / "greenpipe-test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python

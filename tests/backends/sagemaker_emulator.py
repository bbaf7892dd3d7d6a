"""SageMaker's job execution emulated on this machine: each job of a compiled definition (or one standalone
request) run as a subprocess on a temporary /opt/ml root, with local folders under `tmp/s3` standing for S3."""

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


class SageMakerEmulator:
    """Runs a compiled definition's jobs the way SageMaker would, as subprocesses on temporary /opt/ml roots.

    Local folders under `tmp/s3` stand for S3. Each job gets a fresh root (a new container): its inputs are
    downloaded into the /opt/ml folders the job's request names, its command is the request's ContainerEntrypoint
    and arguments, and its outputs are uploaded where SageMaker would put them (a Training job's /opt/ml/model as
    model.tar.gz under S3OutputPath/<job name>/output/). A step property is only readable once a step of the right
    type has run and set it, so a definition that reads a property its step type lacks fails here as it would on
    SageMaker. Condition steps evaluate their JsonGet on the property file and run IfSteps or ElseSteps.
    """

    def __init__(self, tmp: Path, definition: dict, overrides: dict | None = None):
        self.tmp = tmp
        self.params = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
        self.params.update(overrides or {})
        self.properties: dict[str, str] = {}  # "Steps.x.ModelArtifacts.S3ModelArtifacts" -> value
        self.property_files: dict[str, Path] = {}  # "Steps.x.PropertyFiles.values" -> local file
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
            document = json.loads(self.property_files[ref].read_text())
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

    def s3(self, uri: str) -> Path:
        assert uri.startswith("s3://"), uri
        return self.tmp / "s3" / uri[len("s3://") :]

    def download(self, uri: str, local: Path) -> None:
        """An S3Prefix input: every object under the prefix, or the one object the URI names, into `local`."""
        source = self.s3(uri)
        if source.is_dir():
            shutil.copytree(source, local)
        else:
            local.mkdir(parents=True)
            shutil.copyfile(source, local / source.name)

    def _container(self, item: dict, spec: dict, root: Path) -> subprocess.CompletedProcess:
        command = [sys.executable if c == "python" else c for c in spec["ContainerEntrypoint"]]
        command += [self.resolve(a) for a in spec.get("ContainerArguments", [])]
        # the image holds the user's code: here demo_steps.py, found through PYTHONPATH
        env = {
            **os.environ,
            "PYTHONPATH": str(HERE),
            "GREENPIPE_SM_ROOT": str(root),
            "GREENPIPE_HOME": str(root / "home"),
        }
        for key, value in item["Arguments"].get("Environment", {}).items():
            value = self.resolve(value)
            # a container path: on this machine it lives under the job's root
            env[key] = str(root / value.lstrip("/")) if value.startswith("/opt/ml") else value
            if key == "GREENPIPE_SHARED" and value.startswith("s3://"):
                env[key] = str(self.s3(value))  # the shared state, in the folder standing for S3
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{item['Name']}: {proc.stderr}"
        self.procs[item["Name"]] = proc
        self.status[item["Name"]] = "ran"
        return proc

    def processing(self, item: dict) -> None:
        args, name = item["Arguments"], item["Name"]
        root = self.tmp / "jobs" / name
        for entry in args.get("ProcessingInputs", []):
            self.download(self.resolve(entry["S3Input"]["S3Uri"]), root / entry["S3Input"]["LocalPath"].lstrip("/"))
        self._container(item, args["AppSpecification"], root)
        uploaded = {}
        for entry in args["ProcessingOutputConfig"]["Outputs"]:
            uri = self.resolve(entry["S3Output"]["S3Uri"])
            shutil.copytree(root / entry["S3Output"]["LocalPath"].lstrip("/"), self.s3(uri))
            uploaded[entry["OutputName"]] = uri
            self.properties[f"Steps.{name}.ProcessingOutputConfig.Outputs['{entry['OutputName']}'].S3Output.S3Uri"] = (
                uri
            )
        for prop in item.get("PropertyFiles", []):
            self.property_files[f"Steps.{name}.PropertyFiles.{prop['PropertyFileName']}"] = (
                self.s3(uploaded[prop["OutputName"]]) / prop["FilePath"]
            )

    def training(self, item: dict) -> None:
        args, name = item["Arguments"], item["Name"]
        root = self.tmp / "jobs" / name
        job_name = f"pipelines-exec-1-{name.replace('_', '-')}"
        for channel in args.get("InputDataConfig", []):
            uri = self.resolve(channel["DataSource"]["S3DataSource"]["S3Uri"])
            self.download(uri, root / "opt/ml/input/data" / channel["ChannelName"])
        config = root / "opt/ml/input/config"
        config.mkdir(parents=True)
        hyperparameters = {k: self.resolve(v) for k, v in args.get("HyperParameters", {}).items()}
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        (root / "opt/ml/model").mkdir(parents=True)
        self._container(item, args["AlgorithmSpecification"], root)
        output = self.s3(self.resolve(args["OutputDataConfig"]["S3OutputPath"])) / job_name / "output"
        output.mkdir(parents=True)
        for archive, folder in (("model.tar.gz", "opt/ml/model"), ("output.tar.gz", "opt/ml/output/data")):
            with tarfile.open(output / archive, "w:gz") as tar:
                for entry in sorted((root / folder).iterdir()):
                    tar.add(entry, arcname=entry.name)
        uri = self.resolve(args["OutputDataConfig"]["S3OutputPath"]) + f"/{job_name}/output"
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
        left, right = (self._operand(cond[k]) for k in ("LeftValue", "RightValue"))
        return {
            "Equals": left == right,
            "GreaterThan": left > right,
            "GreaterThanOrEqualTo": left >= right,
            "LessThan": left < right,
            "LessThanOrEqualTo": left <= right,
        }[cond["Type"]]

    def _operand(self, value):
        if isinstance(value, dict) and ("Get" in value or "Std:Join" in value):
            text = self.resolve(value)
            return json.loads(text) if re.fullmatch(r"-?[0-9.eE+-]+|true|false", text) else text
        return self.resolve(value) if isinstance(value, dict) else value

    def output_file(self, step: str, output: str) -> Path:
        """Where a step's output artifact landed, unpacked from model.tar.gz for a Training step."""
        key = f"Steps.{step}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri"
        if key in self.properties:
            return self.s3(self.properties[key]) / output
        archive = self.s3(self.properties[f"Steps.{step}.ModelArtifacts.S3ModelArtifacts"])
        target = self.tmp / "unpacked" / step
        if not target.exists():
            with tarfile.open(archive) as tar:
                tar.extractall(target, filter="data")
        return target / output

    def ledger(self, step: str) -> dict:
        key = f"Steps.{step}.ProcessingOutputConfig.Outputs['greenpipe'].S3Output.S3Uri"
        if key in self.properties:
            return json.loads((self.s3(self.properties[key]) / "ledger.json").read_text())
        archive = self.s3(self.properties[f"Steps.{step}.ModelArtifacts.S3ModelArtifacts"]).parent / "output.tar.gz"
        with tarfile.open(archive) as tar:
            return json.load(tar.extractfile("ledger.json"))

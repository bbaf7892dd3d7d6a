"""SageMaker's job execution, emulated against moto's S3 server: each compiled job's inputs downloaded to a fresh
/opt/ml root, its command run by the entry point, its outputs uploaded, job by job in the definition's order.
Plus a fresh virtualenv with greenpipe installed from a wheel, to run the jobs in."""

import json
import os
import subprocess
import sys
from pathlib import Path


class MotoJobs:
    """Runs a definition's Processing jobs the way SageMaker would, with the data on the moto S3 server: each
    job's inputs downloaded to a fresh /opt/ml root, its command run, its outputs uploaded."""

    def __init__(self, tmp: Path, definition: dict, env: dict[str, str], python: str = sys.executable):
        self.tmp, self.env, self.python = tmp, env, python
        self.params = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
        self.properties: dict[str, str] = {}
        self.steps = definition["Steps"]
        import boto3

        self.s3 = boto3.client("s3")

    def resolve(self, value):
        if isinstance(value, str):
            return value
        if "Std:Join" in value:
            return value["Std:Join"]["On"].join(self.resolve(v) for v in value["Std:Join"]["Values"])
        ref = value["Get"]
        if ref == "Execution.PipelineExecutionId":
            return "exec-1"
        if ref.startswith("Parameters."):
            return str(self.params[ref.split(".", 1)[1]])
        return self.properties[ref]

    def run(self, steps: list[dict] | None = None) -> None:
        for item in self.steps if steps is None else steps:
            if item["Type"] == "Condition":
                args = item["Arguments"]
                met = all(self.condition(c) for c in args["Conditions"])
                self.run(args["IfSteps"] if met else args["ElseSteps"])
                continue
            {"Processing": self.processing, "Training": self.training}[item["Type"]](item)

    def condition(self, cond: dict) -> bool:
        """A Condition step's comparison, its operands read as SageMaker does (a property file's JSON path)."""
        left, right = self.operand(cond["LeftValue"]), self.operand(cond["RightValue"])
        compare = {"Equals": lambda a, b: a == b, "GreaterThan": lambda a, b: a > b,
                   "GreaterThanOrEqualTo": lambda a, b: a >= b, "LessThan": lambda a, b: a < b,
                   "LessThanOrEqualTo": lambda a, b: a <= b}  # fmt: skip
        return bool(compare[cond["Type"]](left, right))

    def operand(self, value):
        if not isinstance(value, dict) or "Std:JsonGet" not in value:
            return value
        get = value["Std:JsonGet"]
        step_name = get["PropertyFile"]["Get"].split(".")[1]
        file_name = get["PropertyFile"]["Get"].rsplit(".", 1)[1]
        step = self.find(step_name)
        spec = next(f for f in step["PropertyFiles"] if f["PropertyFileName"] == file_name)
        uri = self.properties[
            f"Steps.{step_name}.ProcessingOutputConfig.Outputs['{spec['OutputName']}'].S3Output.S3Uri"
        ]
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        data = json.loads(self.s3.get_object(Bucket=bucket, Key=f"{prefix}/{spec['FilePath']}")["Body"].read())
        for part in get["Path"].split("."):
            data = data[part]
        return data

    def find(self, name: str, steps: list[dict] | None = None) -> dict:
        for item in self.steps if steps is None else steps:
            if item["Name"] == name:
                return item
            if item["Type"] == "Condition":
                try:
                    return self.find(name, item["Arguments"]["IfSteps"] + item["Arguments"]["ElseSteps"])
                except KeyError:
                    pass
        raise KeyError(name)

    def download(self, uri: str, folder: Path) -> None:
        """An S3 prefix into `folder`, as SageMaker fills a job's input folder."""
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                relative = obj["Key"][len(prefix) :].lstrip("/") or obj["Key"].rsplit("/", 1)[-1]
                target = folder / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(bucket, obj["Key"], str(target))

    def container(self, item: dict, spec: dict, root: Path) -> None:
        """The job's command, run by self.python without the user's package, with the job's environment."""
        command = [self.python, *spec["ContainerEntrypoint"][1:], *map(self.resolve, spec["ContainerArguments"])]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("GREENPIPE_")}
        env.update({k: self.resolve(v) for k, v in item["Arguments"]["Environment"].items()})
        env.update(self.env, GREENPIPE_SM_ROOT=str(root), GREENPIPE_HOME=str(root / "home"))
        work = root / "work"
        work.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, f"{item['Name']}: {proc.stderr}"

    def training(self, item: dict) -> None:
        """A Training job: channels under /opt/ml/input/data, hyperparameters.json, /opt/ml/model packed into
        model.tar.gz under S3OutputPath/<job name>/output/ on the moto server."""
        import tarfile

        args, name, root = item["Arguments"], item["Name"], self.tmp / "jobs" / item["Name"]
        for channel in args.get("InputDataConfig", []):
            uri = self.resolve(channel["DataSource"]["S3DataSource"]["S3Uri"])
            self.download(uri, root / "opt/ml/input/data" / channel["ChannelName"])
        config = root / "opt/ml/input/config"
        config.mkdir(parents=True)
        hyperparameters = {k: self.resolve(v) for k, v in args.get("HyperParameters", {}).items()}
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        (root / "opt/ml/model").mkdir(parents=True)
        self.container(item, args["AlgorithmSpecification"], root)
        archive = root / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for entry in sorted((root / "opt/ml/model").iterdir()):
                tar.add(entry, arcname=entry.name)
        uri = f"{self.resolve(args['OutputDataConfig']['S3OutputPath'])}/pipelines-{name}/output/model.tar.gz"
        bucket, _, key = uri[len("s3://") :].partition("/")
        self.s3.upload_file(str(archive), bucket, key)
        self.properties[f"Steps.{name}.ModelArtifacts.S3ModelArtifacts"] = uri

    def processing(self, item: dict) -> None:
        args, root = item["Arguments"], self.tmp / "jobs" / item["Name"]
        for channel in args.get("ProcessingInputs", []):
            local = root / channel["S3Input"]["LocalPath"].lstrip("/")
            self.download(self.resolve(channel["S3Input"]["S3Uri"]), local)
        self.container(item, args["AppSpecification"], root)
        for out in args["ProcessingOutputConfig"]["Outputs"]:
            uri = self.resolve(out["S3Output"]["S3Uri"])
            bucket, _, prefix = uri[len("s3://") :].partition("/")
            local = root / out["S3Output"]["LocalPath"].lstrip("/")
            for file in sorted(p for p in local.rglob("*") if p.is_file()):
                self.s3.upload_file(str(file), bucket, f"{prefix}/{file.relative_to(local).as_posix()}")
            self.properties[
                f"Steps.{item['Name']}.ProcessingOutputConfig.Outputs['{out['OutputName']}'].S3Output.S3Uri"
            ] = uri

    def output_path(self, step: str, output: str) -> Path:
        """The output downloaded from the moto server (a file, or a folder for a folder output)."""
        uri = self.properties[f"Steps.{step}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri"]
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        local = self.tmp / "downloaded" / step
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
            for obj in page.get("Contents", []):
                target = local / obj["Key"][len(prefix) + 1 :]
                target.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(bucket, obj["Key"], str(target))
        return local / output

    def output_bytes(self, step: str, output: str) -> bytes:
        uri = self.properties[f"Steps.{step}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri"]
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        return self.s3.get_object(Bucket=bucket, Key=f"{prefix}/{output}")["Body"].read()


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

"""The command line: `greenpipe run | plan | runs | show | verify | gc | regions | compile | deploy | iam-policy |
catalog | report | new`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from greenpipe.backends.targets import TARGETS
from greenpipe.errors import GreenpipeError, RunNotFound
from greenpipe.run_document import run_document

EXIT_USER_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    from greenpipe.display import install_notices

    install_notices()  # e.g. a compile that falls back: one line in greenpipe's voice, not Python's warning
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return int(args.handler(args) or 0)
    except GreenpipeError as exc:
        print(f"greenpipe: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except ModuleNotFoundError as exc:
        from greenpipe.extras import missing_module_message

        message = missing_module_message(exc.name or "")
        if message is None:
            raise
        print(f"greenpipe: error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("greenpipe: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `greenpipe runs | head`: the reader left; not an error
        sys.stderr.close()
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="greenpipe", description="Sustainable MLOps pipeline steps.")
    parser.add_argument("--home", help="the store folder (default: $GREENPIPE_HOME or ./.greenpipe)")
    sub = parser.add_subparsers(dest="command")

    def pipeline_cmd(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("pipeline", help="a reference pipeline name (train) or path/to/file.py:function")
        cmd.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="override a pipeline parameter (checked against its type)",
        )
        return cmd

    run = pipeline_cmd("run", "run a pipeline on the embedded store")
    _selection_args(run)
    run.add_argument("--region", help="AWS region or 3-letter country for grid intensity ($GREENPIPE_REGION)")
    run.add_argument("--energy", default="formula", help="energy method: formula (default) or codecarbon")
    run.add_argument("--json", action="store_true", help="print one JSON document")
    run.add_argument(
        "--verify", action="store_true", help="re-read every cached output instead of trusting an unchanged stat"
    )
    run.set_defaults(handler=_cmd_run)

    plan = pipeline_cmd("plan", "say what a run would execute or reuse, and why, without running")
    _selection_args(plan)
    plan.add_argument("--json", action="store_true")
    plan.set_defaults(handler=_cmd_plan)

    runs = sub.add_parser("runs", help="list runs")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(handler=_cmd_runs)

    show = sub.add_parser("show", help="a run's steps, ledger and lineage")
    show.add_argument("run", help="a run id, or 'latest'")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_cmd_show)

    gc = sub.add_parser("gc", help="delete artifacts unused for a while; report the bytes freed")
    gc.add_argument("--older-than", required=True, help="e.g. 30d, 12h, P30D")
    gc.add_argument("--dry-run", action="store_true")
    gc.add_argument("--json", action="store_true")
    gc.set_defaults(handler=_cmd_gc)

    verify = sub.add_parser("verify", help="re-read every stored object and check it against its digest")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(handler=_cmd_verify)

    comp = pipeline_cmd("compile", "compile a pipeline for Kubeflow Pipelines or SageMaker Pipelines")
    comp.add_argument("--target", required=True, choices=sorted(TARGETS))
    comp.add_argument("--out", required=True, help="pipeline.yaml (kfp) or definition.json (sagemaker)")
    comp.add_argument("--image", help="the image steps run in (default: the greenpipe image of this version)")
    comp.add_argument("--role", help="sagemaker: the execution role ARN (else a pipeline parameter)")
    comp.add_argument("--bucket", help="sagemaker: the S3 bucket for artifacts (else a pipeline parameter)")
    comp.add_argument("--stage", metavar="ROOT", help="kfp: upload your code the steps reach to the pipeline root")
    comp.add_argument(
        "--shared", metavar="URI", help="where the registry and other state shared by runs live ($GREENPIPE_SHARED)"
    )
    comp.add_argument("--ia-after", type=int, metavar="DAYS", help="kfp, --stage s3://: run outputs to S3 IA after")
    comp.add_argument("--expire-after", type=int, metavar="DAYS", help="kfp, --stage s3://: run outputs deleted after")
    comp.set_defaults(handler=_cmd_compile)

    deploy = pipeline_cmd("deploy", "create or update the pipeline on SageMaker, optionally start it")
    deploy.add_argument("--target", required=True, choices=["sagemaker"])
    deploy.add_argument("--role", required=True, help="the execution role ARN")
    deploy.add_argument("--name", help="the SageMaker pipeline name (default: the pipeline's name)")
    deploy.add_argument("--bucket", help="the S3 bucket for artifacts")
    deploy.add_argument("--image")
    deploy.add_argument("--start", action="store_true", help="start an execution after the upsert")
    deploy.add_argument("--prefix", default="greenpipe", help="the key prefix in the bucket (default: greenpipe)")
    deploy.add_argument("--ia-after", type=int, default=30, metavar="DAYS", help="run outputs to S3 IA after DAYS")
    deploy.add_argument("--expire-after", type=int, default=180, metavar="DAYS", help="run outputs deleted after")
    deploy.add_argument("--log-retention", type=int, default=90, metavar="DAYS", help="job log retention in days")
    deploy.add_argument(
        "--shared", metavar="URI", help="where state shared by runs lives (default s3://BUCKET/PREFIX/shared)"
    )
    deploy.add_argument("--dry-run", action="store_true", help="print what deploy would upload and set; send nothing")
    deploy.set_defaults(handler=_cmd_deploy)

    iam = pipeline_cmd("iam-policy", "print a least-privilege IAM policy for the steps the pipeline uses")
    iam.add_argument("--role", help="the execution role ARN the pipeline passes to its jobs")
    iam.add_argument("--bucket")
    iam.set_defaults(handler=_cmd_iam_policy)

    catalog = sub.add_parser("catalog", help="write every component's KFP YAML, SageMaker template and catalog files")
    catalog.add_argument("--out", default="catalog", help="the folder to write (default: catalog)")
    catalog.add_argument("--image", help="the image the components run in (default: the pinned greenpipe image)")
    catalog.set_defaults(handler=_cmd_catalog)

    new = sub.add_parser("new", help="start a new project from greenpipe components and one custom step")
    new.add_argument("name")
    new.add_argument("--dir", default=".", help="where to create the project folder")
    new.set_defaults(handler=_cmd_new)

    report = sub.add_parser("report", help="write a self-contained HTML sustainability report")
    report.add_argument("run", nargs="?", help="a run id or 'latest' (or use --since)")
    report.add_argument("--since", help="every run started within this age, e.g. 30d")
    report.add_argument("--out", default="report.html")
    report.set_defaults(handler=_cmd_report)

    regions = sub.add_parser("regions", help="AWS regions ranked by grid carbon intensity")
    regions.add_argument("--region", help="the current region (default $GREENPIPE_REGION or us-east-1)")
    regions.add_argument("--json", action="store_true")
    regions.set_defaults(handler=_cmd_regions)

    from greenpipe.backends.image_cli import add_image_command  # `greenpipe image mirror | build`

    add_image_command(sub)
    return parser


def _selection_args(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--force",
        action="append",
        default=[],
        metavar="STEP",
        help="rerun STEP and everything downstream of it (repeatable)",
    )
    cmd.add_argument(
        "--from",
        dest="from_",
        action="append",
        default=[],
        metavar="STEP",
        help="rerun from STEP on: the same as --force STEP",
    )


def _store(args: argparse.Namespace) -> Any:
    from greenpipe.store import Store

    return Store(args.home)


def _emit(args: argparse.Namespace, doc: dict[str, Any], render: Callable[[dict[str, Any]], str]) -> None:
    """Print what a command found: its document with --json, else `render(doc)`, the text for a person."""
    print(json.dumps(doc, indent=2, default=str) if args.json else render(doc))


def _overrides(pairs: list[str]) -> dict[str, str]:
    from greenpipe.params import name_value_pairs

    return name_value_pairs(pairs, "--param", "learning_rate=0.05")


def _runner(args: argparse.Namespace, **extra: Any) -> Any:
    from greenpipe.loader import load_pipeline
    from greenpipe.runner import Runner

    pipeline = load_pipeline(args.pipeline)
    return Runner(
        pipeline,
        _overrides(args.param),
        store=_store(args),
        params_from_text=True,
        force=[*args.force, *args.from_],
        **extra,
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from greenpipe.display import ProgressDisplay, summary

    runner = _runner(
        args,
        region=args.region,
        energy=args.energy,
        display=None if args.json else ProgressDisplay(),
        rehash=args.verify,
    )
    result = runner.run()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        print(summary(result))
    return 0 if result.status == "succeeded" else 1


def _cmd_plan(args: argparse.Namespace) -> int:
    from greenpipe.display import plan_table

    items = _runner(args).plan()
    doc = {"pipeline": args.pipeline, "steps": [item.to_dict() for item in items]}
    _emit(args, doc, lambda _: plan_table(items))
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    from greenpipe.display import runs_text
    from greenpipe.run_document import run_list

    store = _store(args)
    _emit(args, run_list(store, args.limit), lambda doc: runs_text(doc, store.home))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from greenpipe.display import run_text

    _emit(args, run_document(_store(args), args.run), run_text)
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from greenpipe.display import verify_text
    from greenpipe.verify import verify_store

    report = verify_store(_store(args))
    _emit(args, report.to_dict(), verify_text)
    return 0 if report.ok else 1


def _cmd_gc(args: argparse.Namespace) -> int:
    from greenpipe.display import gc_text
    from greenpipe.durations import parse_duration
    from greenpipe.gc import collect_garbage

    age = parse_duration(args.older_than, field="--older-than")
    report = collect_garbage(_store(args), age, dry_run=args.dry_run)
    _emit(args, report.to_dict() | {"dry_run": args.dry_run}, gc_text)
    return 0


def _typed_overrides(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from greenpipe.loader import load_pipeline

    pipeline = load_pipeline(args.pipeline)
    overrides = _overrides(args.param)
    values = pipeline.resolve_params(overrides, from_text=True) if overrides else {}
    return pipeline, {k: v for k, v in values.items() if k in overrides}


def _check_out_file(path: str, flag: str = "--out") -> None:
    """Fail before any work when `path` cannot be written as a file."""
    from greenpipe.errors import OutputPathError

    target = os.path.abspath(path)
    if os.path.isdir(target):
        raise OutputPathError(f"{flag} {path!r} is a folder: name a file in it, e.g. {os.path.join(path, 'out')!r}")
    parent = os.path.dirname(target)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise OutputPathError(f"{flag} {path!r} cannot be written: {parent} is not a writable folder; pick another")


def _cmd_compile(args: argparse.Namespace) -> int:
    _check_out_file(args.out)
    pipeline, params = _typed_overrides(args)
    from greenpipe.backends.lifecycle import StoragePolicy
    from greenpipe.backends.targets import CompileOptions, compile_for

    lifecycle = None
    if args.ia_after is not None or args.expire_after is not None:
        defaults = StoragePolicy()
        lifecycle = StoragePolicy(
            args.ia_after if args.ia_after is not None else defaults.infrequent_after_days,
            args.expire_after if args.expire_after is not None else defaults.expire_after_days,
        )
    options = CompileOptions(
        image=args.image, role=args.role, bucket=args.bucket, stage=args.stage, shared=args.shared, lifecycle=lifecycle
    )
    compile_for(args.target, pipeline, args.out, params or None, options)
    print(f"wrote {args.out} ({args.target}, pipeline {pipeline.name})")
    return 0


def _cmd_deploy(args: argparse.Namespace) -> int:
    from greenpipe.backends.lifecycle import StoragePolicy
    from greenpipe.backends.sagemaker_rollout import execute_plan, plan_deploy

    pipeline, params = _typed_overrides(args)
    policy = StoragePolicy(args.ia_after, args.expire_after, log_retention_days=args.log_retention)
    plan = plan_deploy(
        pipeline, params or None, role_arn=args.role, bucket=args.bucket, image=args.image, name=args.name,
        prefix=args.prefix, policy=policy, shared=args.shared,
    )  # fmt: skip
    result = plan.describe() if args.dry_run else execute_plan(plan, start=args.start)
    print(json.dumps(result, indent=2, default=str))
    return 0


def _cmd_iam_policy(args: argparse.Namespace) -> int:
    from greenpipe.backends.sagemaker_iam import iam_policy

    pipeline, _ = _typed_overrides(args)
    print(json.dumps(iam_policy(pipeline, role_arn=args.role, bucket=args.bucket), indent=2))
    return 0


def _cmd_catalog(args: argparse.Namespace) -> int:
    from greenpipe.backends.catalog import write_catalog

    entries = write_catalog(args.out, image=args.image)
    print(f"wrote {len(entries)} steps to {args.out}/ (catalog.json, catalog-info.yaml, kfp/, sagemaker/)")
    return 0


def _cmd_new(args: argparse.Namespace) -> int:
    from greenpipe.scaffold import new_project

    root = new_project(args.name, args.dir)
    print(f"created {root}: install and test it as its README says ({root / 'README.md'})")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from greenpipe.durations import parse_duration
    from greenpipe.report import runs_since, write_report

    if args.out:
        _check_out_file(args.out)
    store = _store(args)
    if args.since:
        run_ids = runs_since(store, parse_duration(args.since, field="--since"))
        title = f"greenpipe sustainability report: runs of the last {args.since}"
        if not run_ids:
            raise RunNotFound(f"no runs started in the last {args.since} in {store.home}")
    elif args.run:
        run_ids = [run_document(store, args.run)["run_id"]]
        title = f"greenpipe sustainability report: run {run_ids[0]}"
    else:
        raise GreenpipeError("report needs a RUN (an id or 'latest') or --since AGE, e.g. greenpipe report latest")
    path = write_report(store, run_ids, args.out, title)
    print(f"wrote {path} ({len(run_ids)} run{'s' if len(run_ids) != 1 else ''})")
    return 0


def _cmd_regions(args: argparse.Namespace) -> int:
    from greenpipe.display import regions_text
    from greenpipe.regions import regions_document

    _emit(args, regions_document(_store(args), args.region), regions_text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

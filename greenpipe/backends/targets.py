"""Compile targets behind one protocol: the CLI (or a user) looks a target up by name instead of branching on it.

A target turns a pipeline and the compile options into a file another runtime runs: KFP's IR YAML, a SageMaker
Pipelines definition. Each says which options it takes, so an option meant for another target is one clear error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from greenpipe.backends.lifecycle import StoragePolicy
from greenpipe.errors import GreenpipeError
from greenpipe.pipeline import Pipeline


@dataclass(frozen=True)
class CompileOptions:
    """What `greenpipe compile` passes on; each target reads the options it knows (see `Target.options`)."""

    image: str | None = None
    role: str | None = None  # sagemaker: the execution role ARN
    bucket: str | None = None  # sagemaker: the S3 bucket for artifacts
    stage: str | None = None  # kfp: the pipeline root the code archive is uploaded to
    shared: str | None = None  # where state that outlives a run lives (greenpipe.shared_state)
    lifecycle: StoragePolicy | None = None  # kfp: expiry for the runs under an s3:// --stage root

    def given(self) -> set[str]:
        return {name for name in ("image", "role", "bucket", "stage", "shared", "lifecycle") if getattr(self, name)}


class Target(Protocol):
    """One remote runtime greenpipe compiles to."""

    name: str
    options: frozenset[str]  # the CompileOptions fields it reads

    def compile(self, pipeline: Pipeline, out: str, params: dict[str, Any] | None, options: CompileOptions) -> None:
        """Write the compiled pipeline to `out`."""
        ...


class KfpTarget:
    name = "kfp"
    options = frozenset({"image", "stage", "shared", "lifecycle"})

    def compile(self, pipeline: Pipeline, out: str, params: dict[str, Any] | None, options: CompileOptions) -> None:
        from greenpipe.backends.kfp import compile_pipeline

        if options.lifecycle is not None and not (options.stage or "").startswith("s3://"):
            raise GreenpipeError(
                "--ia-after/--expire-after set an S3 lifecycle for the runs under the pipeline root: pass "
                "--stage s3://BUCKET/PREFIX (a GCS root: see `gcloud storage buckets update --lifecycle-file`)"
            )
        compile_pipeline(
            pipeline,
            out,
            params,
            image=options.image,
            code_root=options.stage,
            shared=options.shared,
            lifecycle=options.lifecycle,
        )


class SageMakerTarget:
    name = "sagemaker"
    options = frozenset({"image", "role", "bucket", "shared"})

    def compile(self, pipeline: Pipeline, out: str, params: dict[str, Any] | None, options: CompileOptions) -> None:
        from greenpipe.artifacts import write_text_atomic
        from greenpipe.backends.image import sagemaker_image
        from greenpipe.backends.sagemaker import compile_definition

        image = sagemaker_image(options.image)  # SageMaker pulls only from ECR: says how to get one when none is set
        write_text_atomic(
            out,
            compile_definition(
                pipeline, params, role_arn=options.role, image=image, bucket=options.bucket, shared=options.shared
            ),
        )


TARGETS: dict[str, Target] = {t.name: t for t in (KfpTarget(), SageMakerTarget())}
WHY_NOT = {
    ("sagemaker", "stage"): "for SageMaker, `greenpipe deploy` uploads the code",
    ("kfp", "role"): "a KFP pipeline runs with the cluster's service account",
    ("kfp", "bucket"): "a KFP pipeline writes to its pipeline root",
    ("sagemaker", "lifecycle"): "`greenpipe deploy` sets the bucket's lifecycle (--ia-after, --expire-after)",
}


def target(name: str) -> Target:
    """The compile target called `name`; a clear error listing the others."""
    found = TARGETS.get(name)
    if found is None:
        raise GreenpipeError(f"--target {name!r} is not a compile target: use one of {', '.join(sorted(TARGETS))}")
    return found


def compile_for(
    name: str, pipeline: Pipeline, out: str, params: dict[str, Any] | None, options: CompileOptions
) -> None:
    """Compile with the target `name`, refusing options it does not take before any work."""
    chosen = target(name)
    for option in sorted(options.given() - chosen.options):
        why = WHY_NOT.get((name, option), "")
        raise GreenpipeError(f"--{option} is not an option of --target {name}" + (f": {why}" if why else ""))
    chosen.compile(pipeline, out, params, options)

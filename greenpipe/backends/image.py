"""The container image both backends run steps in, pinned to the package version (see the Dockerfile).

KFP pulls it from any registry (ghcr by default). SageMaker pulls training and processing images only from
Amazon ECR, so a SageMaker definition names the user's ECR copy: `--image`, else GREENPIPE_IMAGE.
"""

import os
import re

from greenpipe import __version__
from greenpipe.errors import GreenpipeError

IMAGE_REPOSITORY = "ghcr.io/greenpipe/greenpipe"
PUBLIC_ECR_REPOSITORY = "public.ecr.aws/greenpipe/greenpipe"
ECR_IMAGE = re.compile(r"\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+([:@]\S+)?")


def default_image() -> str:
    """`GREENPIPE_IMAGE` if set, else the public image tagged with this greenpipe version."""
    return os.environ.get("GREENPIPE_IMAGE") or f"{IMAGE_REPOSITORY}:{__version__}"


def mirror_commands(repository: str = "ACCOUNT.dkr.ecr.REGION.amazonaws.com/greenpipe") -> list[str]:
    """The shell commands that copy this version's public image into a private ECR repository."""
    registry = repository.split("/", 1)[0]
    region = registry.split(".")[3] if registry.count(".") >= 4 else "REGION"
    source = f"{PUBLIC_ECR_REPOSITORY}:{__version__}"
    target = f"{repository}:{__version__}"
    return [
        f"aws ecr create-repository --repository-name {repository.split('/', 1)[-1]} --region {region}",
        f"aws ecr get-login-password --region {region} | docker login --username AWS --password-stdin {registry}",
        f"docker pull {source}",
        f"docker tag {source} {target}",
        f"docker push {target}",
    ]


def sagemaker_image(given: str | None = None) -> str:
    """The ECR image a SageMaker definition names: `given`, else GREENPIPE_IMAGE; refuses anything else, saying
    how to get one."""
    image = given or os.environ.get("GREENPIPE_IMAGE", "")
    if image and ECR_IMAGE.fullmatch(image):
        return image
    steps = "\n  ".join(mirror_commands())
    what = f"--image {image!r} is not an Amazon ECR image" if image else "no image is set"
    raise GreenpipeError(
        f"{what}: SageMaker pulls training and processing images only from a private Amazon ECR repository. "
        f"Copy the greenpipe {__version__} image into yours once:\n  {steps}\n"
        f"then pass --image ACCOUNT.dkr.ecr.REGION.amazonaws.com/greenpipe:{__version__} or set GREENPIPE_IMAGE "
        "(see docs/sagemaker.md)"
    )

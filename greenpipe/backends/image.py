"""The container image both backends run steps in, pinned to the package version (see the Dockerfile)."""

import os

from greenpipe import __version__

IMAGE_REPOSITORY = "ghcr.io/greenpipe/greenpipe"


def default_image() -> str:
    """`GREENPIPE_IMAGE` if set, else the public image tagged with this greenpipe version."""
    return os.environ.get("GREENPIPE_IMAGE") or f"{IMAGE_REPOSITORY}:{__version__}"

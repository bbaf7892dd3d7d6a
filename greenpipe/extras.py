"""Which optional extra of greenpipe provides a module: read from the installed package's own metadata
(pyproject's [project.optional-dependencies]), so the table lives in one place."""

from __future__ import annotations

import importlib.metadata
import re

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"extra\s*==\s*['\"]([^'\"]+)['\"]")


def extra_providing(module_name: str) -> str | None:
    """The extra whose requirements include the distribution named like `module_name`'s root, if any."""
    root = module_name.split(".")[0].lower().replace("_", "-")
    try:
        requirements = importlib.metadata.requires("greenpipe") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        name, extra = _NAME.match(requirement), _EXTRA.search(requirement)
        if name and extra and extra.group(1) != "test" and name.group(1).lower().replace("_", "-") == root:
            return extra.group(1)
    return None


def missing_module_message(module_name: str) -> str | None:
    """A one-line fix for a missing optional dependency, or None when no extra provides it."""
    extra = extra_providing(module_name)
    if extra is None:
        return None
    return (
        f"this needs the '{extra}' extra ({module_name.split('.')[0]} is not installed): "
        f"pip install 'greenpipe[{extra}]'"
    )

"""`package.module:attr.path` references (a step's StepSpec.ref, a CodeRef param, a pipeline in a package): the
one place that turns such a string into the object it names."""

from __future__ import annotations

import importlib
from typing import Any

from greenpipe.errors import GreenpipeError


class RefError(GreenpipeError):
    """A `package.module:attr` reference names nothing importable."""


def resolve_ref(ref: str, what: str = "reference") -> Any:
    """The object `ref` names. Raises RefError saying which part is missing and the form expected.

    Args:
        what: how the caller's user knows the string ("code reference", "component"), for the message.
    """
    module_name, sep, qualname = ref.partition(":")
    if not sep or not module_name or not qualname:
        raise RefError(f"{what} {ref!r} is not 'package.module:name': write e.g. 'mypackage.features:transform'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):  # the module itself, not something it imports
            raise RefError(f"{what} {ref!r}: no module {module_name}; install it or check the name") from None
        raise
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise RefError(f"{what} {ref!r}: {module_name} has no {qualname!r}; check the name after ':'")
        obj = getattr(obj, part)
    return obj

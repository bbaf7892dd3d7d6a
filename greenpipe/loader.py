"""Find a pipeline from what the user typed: a reference pipeline's name or `path/to/file.py:function`."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path

from greenpipe.errors import PipelineNotFound
from greenpipe.pipeline import Pipeline
from greenpipe.refs import RefError, resolve_ref

REFERENCE_PACKAGE = "greenpipe.pipelines"


def load_pipeline(ref: str) -> Pipeline:
    """Load `train` (a reference pipeline), `path/to/file.py:function` or `package.module:function`."""
    if ":" in ref:
        target = ref.rpartition(":")[0]
        if not target.endswith(".py") and re.fullmatch(r"[A-Za-z_][\w.]*", target) and not Path(target).exists():
            return _from_module(ref)
        return _from_file(ref)
    if Path(ref).exists():  # a path without `:function`
        what = "a directory: pass a Python file in it" if Path(ref).is_dir() else "a file: name the pipeline in it"
        raise PipelineNotFound(f"pipeline {ref!r} is {what}, as path/to/file.py:function")
    package = importlib.import_module(REFERENCE_PACKAGE)
    table: dict[str, str] = getattr(package, "REFERENCE_PIPELINES", {})
    if ref not in table:
        raise PipelineNotFound(
            f"pipeline {ref!r} is not a reference pipeline ({', '.join(sorted(table))}); "
            "for your own, pass path/to/file.py:function"
        )
    return _checked(resolve_ref(table[ref], "reference pipeline"), ref)


def _from_module(ref: str) -> Pipeline:
    """`package.module:function`, for a pipeline in an installed project."""
    try:
        return _checked(resolve_ref(ref, "pipeline"), ref)
    except RefError as exc:
        raise PipelineNotFound(f"{exc}; or pass path/to/file.py:function") from None


def _from_file(ref: str) -> Pipeline:
    path_text, _, attr = ref.rpartition(":")
    path = Path(path_text)
    if path.is_dir():
        raise PipelineNotFound(
            f"pipeline file {path_text!r} is a directory: pass the Python file in it, path/to/file.py:function"
        )
    if not path.is_file():
        raise PipelineNotFound(f"pipeline file {path_text!r} does not exist: pass path/to/file.py:function")
    if not re.fullmatch(r"[A-Za-z_]\w*", attr):
        raise PipelineNotFound(f"{attr!r} in {ref!r} is not a function name: pass path/to/file.py:function")
    # Import under the file's own name, as `import pipe` from a sibling would, so the same step has the same
    # identity (and cache key) whichever way it is reached; a clash with another module falls back to a unique name.
    module_name = path.stem
    loaded = sys.modules.get(module_name)
    if (
        not module_name.isidentifier()
        or module_name in sys.stdlib_module_names
        or (loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() != path.resolve())
    ):
        module_name = "greenpipe_user_" + re.sub(r"\W", "_", path.resolve().with_suffix("").as_posix().strip("/"))
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PipelineNotFound(f"cannot load {path_text!r} as Python: pass a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the pipeline's own helper modules import as they would from a script
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[module_name]
        raise PipelineNotFound(
            f"pipeline file {path_text!r} has a syntax error at line {exc.lineno}: {exc.msg}"
        ) from None
    except Exception as exc:
        del sys.modules[module_name]
        raise PipelineNotFound(f"pipeline file {path_text!r} failed to import: {type(exc).__name__}: {exc}") from None
    if not hasattr(module, attr):
        raise PipelineNotFound(f"{path_text!r} has no function {attr!r}; decorate one with @greenpipe.pipeline")
    return _checked(getattr(module, attr), ref)


def _checked(obj: object, ref: str) -> Pipeline:
    if not isinstance(obj, Pipeline):
        raise PipelineNotFound(f"{ref!r} is not a pipeline: decorate the function with @greenpipe.pipeline")
    return obj

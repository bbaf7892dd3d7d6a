"""greenpipe steps as Kubeflow Pipelines components, for your own `@dsl.pipeline`.

    from kfp import dsl
    from greenpipe.kfp import drift_gate

    @dsl.pipeline
    def my_pipeline(...):
        gate = drift_gate(data=..., baseline=...)

A name is looked up when first used (module __getattr__), so `import greenpipe.kfp` imports neither kfp nor
any component: first `greenpipe.components.<name>.<name>`, then every component's `STEPS`, then the steps of
the reference pipelines. Each component runs in the greenpipe image pinned to this version (GREENPIPE_IMAGE
overrides it) and carries the step's code fingerprint as the `greenpipe_code` input default, so editing the
step's code changes KFP's cache key. When you feed a component data imported from outside the pipeline, pass
its content digest as `greenpipe_data` (e.g. `greenpipe.digest.digest_path(local_copy)`) so new data at the
same URI is not a stale cache hit.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from greenpipe.errors import GreenpipeError
from greenpipe.step import Step

__all__ = ["component", "component_yaml"]

_built: dict[str, Any] = {}


def component(step: Step | str) -> Any:
    """The KFP component for a greenpipe step object, or for a step found by name."""
    if isinstance(step, str):
        return __getattr__(step)
    if not isinstance(step, Step):
        raise GreenpipeError(f"component({step!r}): pass a greenpipe step (a @step function) or its name")
    from greenpipe.backends.kfp_component import step_component

    return step_component(step)


def component_yaml(step: Step | str, out_path: str) -> None:
    """Write the KFP component YAML for a step (or a step name) to `out_path`."""
    from greenpipe.backends.kfp_component import component_yaml as write

    write(_find_step(step) if isinstance(step, str) else step, out_path)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    if name not in _built:
        _built[name] = component(_find_step(name))
    return _built[name]


def _find_step(name: str) -> Step:
    for candidates in (_own_package(name), _component_steps(), _pipeline_steps()):
        for step in candidates:
            if step.spec.name == name:
                return step
    raise AttributeError(
        f"greenpipe.kfp has no component {name!r}: it is not a step of greenpipe.components or of the reference "
        "pipelines; for your own step use greenpipe.kfp.component(your_step)"
    )


def _own_package(name: str) -> list[Step]:
    """`greenpipe.components.<name>.<name>`, the usual place, without importing the other components."""
    module_name = f"greenpipe.components.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name in (module_name, "greenpipe.components"):
            return []
        raise
    return [obj for obj in (getattr(module, name, None), *getattr(module, "STEPS", [])) if isinstance(obj, Step)]


def _component_steps() -> list[Step]:
    return _steps_in_package("greenpipe.components", lambda module: list(getattr(module, "STEPS", [])))


def _pipeline_steps() -> list[Step]:
    return _steps_in_package(
        "greenpipe.pipelines", lambda module: [v for v in vars(module).values() if isinstance(v, Step)]
    )


def _steps_in_package(package_name: str, steps_of: Any) -> list[Step]:
    package = importlib.import_module(package_name)
    found: list[Step] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package_name}.{info.name}")
        found.extend(s for s in steps_of(module) if isinstance(s, Step))
    return found

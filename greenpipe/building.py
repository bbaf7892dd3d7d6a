"""Which pipeline graph is being built on this thread: a step called while one is records a task instead of
running. A leaf module, so `step` and `pipeline` both read it without importing each other."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_local = threading.local()


def building() -> Any:
    """The graph (greenpipe.pipeline.Graph) being built on this thread, if a @pipeline function is running."""
    return getattr(_local, "graph", None)


@contextlib.contextmanager
def building_graph(graph: Any) -> Iterator[None]:
    """Make `graph` the one steps add their tasks to, for the duration of the block."""
    previous = building()
    _local.graph = graph
    try:
        yield
    finally:
        _local.graph = previous

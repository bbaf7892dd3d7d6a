"""The great_expectations bootstrap: import it quietly, open an in-memory context, validate a pandas frame.

drift_gate's quality checks and the reference pipelines' ingest check both run great_expectations 1.x the same
way; this is that way, once. great_expectations is imported only inside these functions (it takes seconds).
"""

from __future__ import annotations

from typing import Any


def import_great_expectations() -> Any:
    """The great_expectations module, with usage analytics off (a gate runs offline and sends no events)."""
    import os

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def ephemeral_context() -> Any:
    """An in-memory great_expectations context without progress bars or INFO logs (a step's log is the step's).

    GE 1.x also wants an active context before an ExpectationSuite takes expectations: open one first."""
    import logging

    gx = import_great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def validate_frame(context: Any, suite: Any, frame: Any, name: str = "batch") -> Any:
    """Validate a pandas frame against `suite` in `context`; returns great_expectations' validation result."""
    strings = [c for c in frame.columns if _is_string(frame[c])]
    if strings:  # GE compares dtypes by identity and misses pandas 3's str dtype; give it object columns
        frame = frame.assign(**{c: frame[c].astype(object) for c in strings})
    definition = (
        context.data_sources.add_pandas(name).add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
    )
    return definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite)


def _is_string(series: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_string_dtype(series) and not pd.api.types.is_object_dtype(series))

"""A new batch as the gate reads it: straight from Parquet with pyarrow, one column at a time, no pandas frame.

A pandas frame of 1M x 20 floats is a second copy of the data (pyarrow's table, then pandas' block); the gate only
needs each numeric column as a float64 array (zero-copy from a single-chunk column without nulls) and each
categorical column's counts, so it reads the table once and converts columns as the worker threads ask for them.
A pandas frame is built only when something needs one (scoring a model for the KPI, or great_expectations for an
expectation type the gate does not evaluate itself).
"""

from __future__ import annotations

import os
from typing import Any


def arrow_family(kind: Any) -> str:
    """'number', 'bool' or 'string' for a pyarrow type (as baseline.dtype_family does for pandas dtypes)."""
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    return "string"


def pandas_dtype_name(kind: Any, nulls: int) -> str:
    """The dtype name pandas (and so great_expectations' type check) gives a column of this pyarrow type."""
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        return "category"
    if pa.types.is_boolean(kind):
        return "object" if nulls else "bool"
    if pa.types.is_integer(kind):
        return "float64" if nulls else str(kind.to_pandas_dtype().__name__)
    if pa.types.is_floating(kind):
        return str(kind.to_pandas_dtype().__name__)
    return "object"  # strings reach great_expectations as object (see quality.py)


class Batch:
    """The columns of one Parquet batch, read once."""

    def __init__(self, path: str | os.PathLike[str]):
        import pyarrow.parquet as pq

        self.table = pq.read_table(path)
        self.rows = int(self.table.num_rows)
        self.columns = list(self.table.column_names)
        self._frame: Any = None

    def __contains__(self, column: object) -> bool:
        return column in self.columns

    def family(self, column: str) -> str:
        return arrow_family(self.table.schema.field(column).type)

    def dtype_name(self, column: str) -> str:
        return pandas_dtype_name(self.table.schema.field(column).type, self.table.column(column).null_count)

    def nulls(self, column: str) -> int:
        """Nulls, counting a float NaN as null (as pandas and great_expectations do)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        chunked = self.table.column(column)
        count = int(chunked.null_count)
        if pa.types.is_floating(chunked.type):
            count += int(pc.sum(pc.is_nan(chunked)).as_py() or 0)
        return count

    def floats(self, column: str) -> Any:
        """The column's non-null values as float64 (a view of the Parquet buffer where pyarrow allows it)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        chunked = self.table.column(column)
        if chunked.null_count:
            chunked = pc.drop_null(chunked)
        if chunked.type != pa.float64():
            chunked = chunked.cast(pa.float64())
        values = chunked.to_numpy() if chunked.num_chunks != 1 else chunked.chunk(0).to_numpy(zero_copy_only=False)
        nan = np.isnan(values)
        return values[~nan] if nan.any() else values

    def counts(self, column: str) -> dict[str, float]:
        """Count of each distinct non-null value, keyed by its text (as category_counts keys pandas values)."""
        import pyarrow.compute as pc

        chunked = self.table.column(column)
        if chunked.null_count:
            chunked = pc.drop_null(chunked)
        out: dict[str, float] = {}
        for item in pc.value_counts(chunked).to_pylist():
            key = _text(item["values"])
            out[key] = out.get(key, 0.0) + float(item["counts"])
        return out

    def frame(self) -> Any:
        """The batch as a pandas frame (built once, only when a model or great_expectations needs it)."""
        if self._frame is None:
            self._frame = self.table.to_pandas()
        return self._frame


def _text(value: Any) -> str:
    """A value's text as pandas' astype(str) writes it (1.0 stays '1.0', True stays 'True')."""
    return str(value)

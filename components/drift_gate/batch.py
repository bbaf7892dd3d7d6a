"""A new batch as the gate reads it: straight from Parquet with pyarrow, one column at a time, no pandas frame.

A pandas frame of 1M x 20 floats is a second copy of the data (pyarrow's table, then pandas' block), and reading
the whole table at once held 570 MB of RSS for 160 MB of floats here (decode buffers kept by the allocator); the
gate only needs each numeric column as a float64 array and each categorical column's counts, so each worker reads
its column, checks it and lets it go: the batch is never in memory whole.
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
    if pa.types.is_integer(kind):  # (to_pandas_dtype would import pandas: a second of CPU for a name)
        return "float64" if nulls else f"{'' if pa.types.is_signed_integer(kind) else 'u'}int{kind.bit_width}"
    if pa.types.is_floating(kind):
        return f"float{kind.bit_width}"
    return "object"  # strings reach great_expectations as object (see quality.py)


class Batch:
    """One Parquet batch: its schema up front, each column read when a worker asks for it (and freed after)."""

    def __init__(self, path: str | os.PathLike[str]):
        import pyarrow.parquet as pq

        self.path = path
        handle = pq.ParquetFile(path)
        self.rows = int(handle.metadata.num_rows)
        self.schema = handle.schema_arrow
        self.columns = list(self.schema.names)
        self._frame: Any = None

    def __contains__(self, column: object) -> bool:
        return column in self.columns

    def family(self, column: str) -> str:
        return arrow_family(self.schema.field(column).type)

    def dtype_name(self, column: str, nulls: int) -> str:
        return pandas_dtype_name(self.schema.field(column).type, nulls)

    def read(self, column: str) -> Any:
        """One column as a pyarrow ChunkedArray (its own file handle: workers read columns side by side)."""
        import pyarrow.parquet as pq

        table = pq.ParquetFile(self.path).read(columns=[column], use_threads=False, use_pandas_metadata=False)
        return table.column(0)

    def frame(self) -> Any:
        """The batch as a pandas frame (built once, only when a model or great_expectations needs it)."""
        if self._frame is None:
            import pyarrow.parquet as pq

            self._frame = pq.read_table(self.path).to_pandas()
        return self._frame


def count_nulls(chunked: Any) -> int:
    """Nulls, counting a float NaN as null (as pandas and great_expectations do)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    count = int(chunked.null_count)
    if pa.types.is_floating(chunked.type):
        count += int(pc.sum(pc.is_nan(chunked)).as_py() or 0)
    return count


def floats(chunked: Any) -> Any:
    """A column's non-null values as float64 in row order (a view of pyarrow's buffer where it allows)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if chunked.null_count:
        chunked = pc.drop_null(chunked)
    if chunked.type != pa.float64():
        chunked = chunked.cast(pa.float64())
    # a view of each chunk's data buffer (no nulls are left): pyarrow's to_numpy imports pandas, a second of CPU
    parts = [
        np.frombuffer(chunk.buffers()[1], dtype=np.float64)[chunk.offset : chunk.offset + len(chunk)]
        for chunk in chunked.chunks
    ]
    values = parts[0] if len(parts) == 1 else (np.concatenate(parts) if parts else np.empty(0))
    nan = np.isnan(values)
    return values[~nan] if nan.any() else values


def counts(chunked: Any) -> dict[str, float]:
    """Count of each distinct non-null value, keyed by its text (as baseline.category_counts keys pandas values)."""
    import pyarrow.compute as pc

    if chunked.null_count:
        chunked = pc.drop_null(chunked)
    out: dict[str, float] = {}
    for item in pc.value_counts(chunked).to_pylist():
        key = _text(item["values"])
        out[key] = out.get(key, 0.0) + float(item["counts"])
    return out


def _text(value: Any) -> str:
    """A value's text as pandas' astype(str) writes it (1.0 stays '1.0', True stays 'True')."""
    return str(value)

"""Batch transform, locally: score a Parquet dataset in chunks with a model folder's model.pkl."""

from __future__ import annotations

from typing import Any

from greenpipe.artifacts import write_atomic


def score_in_chunks(estimator: Any, features: list[str], data_path: str, out_path: str, chunk_rows: int) -> int:
    """Write `data_path`'s rows with `prediction` (and `probability_<class>` columns for a classifier); return
    the number of rows. Reads and scores one row group batch at a time, so memory holds one chunk."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pq.ParquetFile(data_path)
    missing = [f for f in features if f not in source.schema_arrow.names]
    if missing:
        from greenpipe.components.serve.errors import ServeError

        raise ServeError(f"data lacks the model's features {missing}: pass rows with the columns model.json names")
    named = hasattr(estimator, "feature_names_in_")
    rows = 0

    def write(tmp: str) -> None:  # into the temporary file write_atomic renames into place
        nonlocal rows
        writer = None
        try:
            for batch in source.iter_batches(batch_size=chunk_rows):
                frame = batch.to_pandas()
                x = frame[features] if named else frame[features].to_numpy()
                scored = frame.assign(prediction=estimator.predict(x))
                if hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_"):
                    proba = estimator.predict_proba(x)
                    for i, label in enumerate(estimator.classes_):
                        scored[f"probability_{label}"] = proba[:, i]
                table = pa.Table.from_pandas(pd.DataFrame(scored), preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                rows += len(frame)
            if writer is None:  # an empty dataset: still a valid (empty) scored file
                pd.DataFrame(columns=[*source.schema_arrow.names, "prediction"]).to_parquet(tmp, index=False)
        finally:
            if writer is not None:
                writer.close()

    write_atomic(out_path, write)
    return rows

"""A fitted model's pickle bytes that depend on the model's values only, not on how its objects came to be.

pickle writes an object once and then refers back to it whenever the same object appears again: its bytes
describe which parts of a model are the same object, not only what the model holds. A model trained straight
through shares numpy dtype objects and interned attribute names; a model resumed from a checkpoint (or passed
through a worker process) holds some of them as the separate objects unpickling created. The weights are equal
and the bytes are not, so a resumed run would look like a different model to the cache and to every step
downstream. Pickling without the memo ("fast" mode) writes every object by value, so equal models give equal
bytes. Objects shared inside the model come back as equal copies, which a fitted estimator does not rely on.
"""

from __future__ import annotations

import io
import pickle
from typing import Any


def model_bytes(model: Any) -> bytes:
    """pickle.dumps(model) by value: equal models give equal bytes. A model with a reference cycle (which the
    memo-less form cannot write) is pickled as usual, and its bytes may then depend on its history."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True  # no memo: every object written by value
    try:
        pickler.dump(model)
    except (ValueError, RecursionError):  # a cyclic object: "fast mode: can't pickle cyclic objects"
        return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    return buffer.getvalue()

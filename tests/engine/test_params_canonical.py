"""Equal params give one cache key, whatever their order or spelling (property-based)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from greenpipe.cache import KeyParts
from greenpipe.fingerprint import Fingerprint
from greenpipe.params import coerce

FP = Fingerprint("fp:0", {})


def _key(params: dict) -> str:
    return KeyParts(FP, "0", params, {"data": "blake3:00"}).key


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_a_float_param_spelled_as_text_or_number_gives_one_key(value):
    spellings = [value, repr(value), f"{value:.17g}"]
    if value.is_integer() and abs(value) < 2**53 and math.copysign(1.0, value) > 0:  # int() drops -0.0's sign
        spellings += [int(value), str(int(value))]
    keys = {_key({"lr": coerce("lr", float, v, from_text=isinstance(v, str))}) for v in spellings}
    assert len(keys) == 1


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=4), st.integers() | st.booleans() | st.text(max_size=3), max_size=6))
def test_param_order_does_not_change_the_key(params):
    reordered = dict(reversed(list(params.items())))
    assert _key(params) == _key(reordered)
    nested_a = {"outer": params, "n": 1}
    nested_b = {"n": 1, "outer": reordered}
    assert _key(nested_a) == _key(nested_b)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_an_int_param_spelled_as_text_gives_one_key(value):
    keys = {_key({"n": coerce("n", int, v, from_text=isinstance(v, str))}) for v in (value, str(value))}
    assert len(keys) == 1

"""The first trials of a study from a scrambled Sobol design instead of independent random draws.

A handful of random points clump and leave corners of the space unseen; the model-based sampler then learns from
a lopsided start. A Sobol sequence spreads the same number of points evenly over every parameter's range (on its
log scale where the parameter has one), so the first trials already cover slow and fast learning rates, small and
large trees.
"""

from __future__ import annotations

import math
from typing import Any

from greenpipe.components.bayes_tune.search_space import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    Parameter,
    SearchSpace,
)

ORIGIN = "space_filling"


def sobol_points(space: SearchSpace, n: int, seed: int) -> list[dict[str, Any]]:
    """`n` configurations (real values) from a scrambled Sobol sequence over `space`, reproducible by `seed`."""
    import warnings

    from scipy.stats import qmc

    sampler = qmc.Sobol(d=len(space.parameters), scramble=True, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns when n is not a power of two; balance is still good
        units = sampler.random(n)
    return [{p.name: _value(p, float(u)) for p, u in zip(space.parameters, row, strict=True)} for row in units]


def _value(p: Parameter, u: float) -> Any:
    if isinstance(p, CategoricalParameter):
        return p.values[min(int(u * len(p.values)), len(p.values) - 1)]
    if isinstance(p, ContinuousParameter) and p.scaling == "ReverseLogarithmic":
        low, high = math.log(1.0 - p.high), math.log(1.0 - p.low)
        return 1.0 - math.exp(low + u * (high - low))
    if p.log:
        value = math.exp(math.log(p.low) + u * (math.log(p.high) - math.log(p.low)))
    else:
        value = p.low + u * (p.high - p.low)
    if isinstance(p, IntegerParameter):
        return min(p.high, max(p.low, int(round(value))))
    return min(p.high, max(p.low, value))

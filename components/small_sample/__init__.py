"""small_sample: learn on a little before spending on a lot (simplest model that meets the need, and its data)."""

from greenpipe.components.small_sample.step import SmallSampleResult, SmallSampleWarning, small_sample

STEPS = [small_sample]

__all__ = ["STEPS", "SmallSampleResult", "SmallSampleWarning", "small_sample"]

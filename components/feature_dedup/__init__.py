"""feature_dedup: never compute the same features twice.

A feature set (a transform over a source table, its entity key and event time) is computed once per
fingerprint (transform code + source content + params) and stored as Parquet with a catalog in the greenpipe
store; a later request from any pipeline, under any name, gets the stored copy and credits the energy
the first computation measured. `training_set` joins labels to features point-in-time correctly.
"""

from greenpipe.components.feature_dedup.steps import (
    FeatureDedupResult,
    TrainingSetResult,
    feature_dedup,
    training_set,
)

STEPS = [feature_dedup, training_set]

__all__ = ["STEPS", "FeatureDedupResult", "TrainingSetResult", "feature_dedup", "training_set"]

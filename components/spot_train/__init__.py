"""spot_train: train with atomic checkpoints, restart on spot reclaim, stop bad jobs early with stop-rules."""

from greenpipe.components.spot_train.train_step import SpotTrainResult, spot_train

STEPS = [spot_train]

__all__ = ["STEPS", "SpotTrainResult", "spot_train"]

"""greenpipe's reusable steps, one folder each: feature_dedup, small_sample, spot_train, bayes_tune, drift_gate,
register."""

"""feature_dedup component."""

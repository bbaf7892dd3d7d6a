"""spot_train component."""

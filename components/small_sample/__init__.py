"""small_sample component."""

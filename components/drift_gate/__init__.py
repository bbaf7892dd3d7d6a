"""drift_gate component."""

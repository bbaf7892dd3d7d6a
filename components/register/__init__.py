"""register component."""

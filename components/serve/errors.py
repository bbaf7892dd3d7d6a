"""Errors the serve component raises for things a user can cause and fix."""

from greenpipe.errors import GreenpipeError


class ServeError(GreenpipeError):
    """A traffic profile, latency objective or serving option that cannot be used as given."""

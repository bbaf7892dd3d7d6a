"""Errors the compress component raises for things a user can cause and fix."""

from greenpipe.errors import GreenpipeError


class CompressError(GreenpipeError):
    """A compress request names a metric, bar or model folder that cannot be used as given."""

"""Errors the register component raises for things a user can cause and fix."""

from greenpipe.errors import GreenpipeError


class RegistryError(GreenpipeError):
    """A registry request names a model, version, alias or metric that does not fit what is registered."""


class ModelTampered(RegistryError):
    """A stored model's bytes no longer match the digest the registry recorded: it is refused, never unpickled."""

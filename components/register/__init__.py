"""register: a model registry in the greenpipe store and a model card with the model's measured footprint.

`register` is the step. The registry reads (`list_models`, `list_versions`, `aliases`, `get_version`,
`evaluations`, `events`, `read_card`, `card_folder`) and `load_model` (digest-verified) are for reports and users.
"""

from greenpipe.components.register.register_step import RegisterResult, register
from greenpipe.components.register.registry import (
    aliases,
    card_folder,
    evaluations,
    events,
    get_version,
    list_models,
    list_versions,
    load_model,
    read_card,
)

STEPS = [register]

__all__ = [
    "STEPS",
    "RegisterResult",
    "aliases",
    "card_folder",
    "evaluations",
    "events",
    "get_version",
    "list_models",
    "list_versions",
    "load_model",
    "read_card",
    "register",
]

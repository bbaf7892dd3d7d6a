"""Errors a user can cause. Each names the field, the value and the fix; the CLI prints them and exits 2."""


class GreenpipeError(Exception):
    """Base class for every error a user can cause and fix."""


class SpecError(GreenpipeError):
    """A step or pipeline is declared in a way greenpipe cannot use."""


class ParamError(GreenpipeError):
    """A parameter value does not fit the parameter's declared type or range."""


class PipelineNotFound(GreenpipeError):
    """A pipeline reference names no reference pipeline and no loadable `file.py:function`."""


class StepNotFound(GreenpipeError):
    """A step name (for --force/--from) is not in the pipeline."""


class InputMissing(GreenpipeError):
    """An input file given to a pipeline does not exist."""


class DurationError(GreenpipeError):
    """An ISO-8601 duration (cache expiry, gc age) could not be parsed."""


class RunNotFound(GreenpipeError):
    """A run id names no run in the store."""


class StoreError(GreenpipeError):
    """The store folder (GREENPIPE_HOME) cannot be used: not a folder, not writable, or its index is corrupt."""


class OutputPathError(GreenpipeError):
    """A file greenpipe was asked to write (`--out`) cannot be written there."""


class CompileError(GreenpipeError):
    """A pipeline uses a construct that the compile target cannot express."""


class KnownOnlyAtRunTime(CompileError):
    """A value the target wants fixed at compile time (e.g. tuning ranges) is decided only when the pipeline runs."""

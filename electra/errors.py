"""Exception types for problems the user can fix (bad input, bad config, bad checkpoint).

The CLI prints these as ``error: <message>`` and exits with status 2; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations


class ElectraError(Exception):
    """A user-facing error: the message names the file, line or field at fault."""


class ConfigError(ElectraError):
    """An invalid configuration value: ``field`` names it (``hidden_size``, or ``model.hidden_size``
    once the CLI knows its group), ``message`` says what is wrong with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"invalid config value for '{field}': {message}")
        self.field = field
        self.message = message

    def within(self, group: str) -> ConfigError:
        """The same error with the field named inside ``group`` (``model``, ``recipe``, ``train``)."""
        return ConfigError(f"{group}.{self.field}", self.message)

    def __reduce__(self):  # picklable across worker processes despite the two-argument constructor
        return type(self), (self.field, self.message)


class Preempted(Exception):
    """Training stopped on SIGTERM after writing a checkpoint: a clean exit, not an error."""

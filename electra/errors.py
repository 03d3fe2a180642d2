"""One exception type for problems the user can fix (bad input, bad config, bad checkpoint).

The CLI prints these as ``error: <message>`` and exits with status 2; anything else is a bug
and keeps its traceback.
"""


class ElectraError(Exception):
    """A user-facing error: the message names the file, line or field at fault."""


class Preempted(Exception):
    """Training stopped on SIGTERM after writing a checkpoint: a clean exit, not an error."""

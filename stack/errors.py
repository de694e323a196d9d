"""The one exception callers of `stack` need to catch."""


class StackError(RuntimeError):
    """A service could not be started or stopped; the message says which and why."""

"""The project's error types (the bottom layer: imports nothing of ours).

Every ``Error`` is a problem the user can fix: ``cli.run_main`` shows it as one line and exits
with status 2.  Library code raises the domain type (data, config, checkpoint); only argument
parsing raises ``UsageError``.  ``NonFiniteLoss`` is not a user error but a run that diverged
(exit 1); it carries the last finite state.
"""

from __future__ import annotations


class Error(Exception):
    """A problem the user can fix; one line, exit status 2."""


class UsageError(Error):
    """A bad flag or argument."""


class DataError(Error):
    """A data file that is missing, corrupt, altered or refused."""


class ConfigError(Error):
    """Settings that do not fit together, or do not match the run being resumed."""


class CheckpointError(Error):
    """A checkpoint that is missing, truncated, altered, or does not fit the expected shapes."""


class NonFiniteLoss(RuntimeError):
    """A step produced a NaN or infinite loss, gradient or parameters.  ``step`` is that step;
    ``state`` is the last finite state (the failing update was never applied)."""

    def __init__(self, step: int, state=None):
        super().__init__(f"loss or parameters became NaN/inf at step {step}; stopped "
                         f"(the state before that step is kept)")
        self.step = step
        self.state = state

"""Errors of the firmware-update package.

A bundle that fails verification is :class:`BundleRejected` carrying one short reason
(the CLI prints it and exits 1); a caller mistake — unreadable key file, unknown
platform, a source tree that is not posterm — is :class:`UpdateUsageError` (exit 2).
"""

from __future__ import annotations

from terminal.errors import TerminalError, UsageError


class UpdateError(TerminalError):
    """Root of every error raised by terminal.update."""


class BundleRejected(UpdateError):
    """The bundle must not be installed; ``reason`` is one line naming why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UpdateUsageError(UpdateError, UsageError):
    """Bad input from the caller (key file, platform, source tree, install state)."""

"""Errors of the acquirer host simulator. Messages never carry PANs, PINs or key bytes."""

from __future__ import annotations

from sim.errors import SimError


class HostError(SimError):
    """Root of every error raised by sim.host."""


class RulesError(HostError):
    """The rules file is malformed; ``where`` names the table/key at fault."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"rules: {where}: {problem}")
        self.where = where
        self.problem = problem


class FrameError(HostError):
    """A frame could not be read or decoded (length, short read, ISO 8583 syntax)."""


class FieldError(HostError):
    """A request field is missing or malformed; ``field`` is the DE number."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"DE {field}: {problem}")
        self.field = field
        self.problem = problem


class TlsError(HostError):
    """The TLS certificate or key cannot be used (names the file, never its content)."""

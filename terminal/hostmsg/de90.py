"""DE 90 original data elements (host-spec DE 90, 42 digits).

original MTI (4) + original STAN (6) + original date-time MMDDhhmmss (10) + acquirer
institution ID (11, zero-filled) + forwarding institution ID (11, zero-filled).
"""

from __future__ import annotations

from dataclasses import dataclass

from terminal.errors import TerminalError


class De90Error(TerminalError):
    """DE 90 is not 42 digits."""


@dataclass(frozen=True, slots=True)
class OriginalData:
    mti: str
    stan: str
    datetime: str  # MMDDhhmmss
    acquirer: str = "0" * 11
    forwarding: str = "0" * 11

    def encode(self) -> str:
        text = f"{self.mti}{self.stan}{self.datetime}{self.acquirer}{self.forwarding}"
        if len(text) != 42 or not text.isdigit():
            raise De90Error("DE 90 must be 42 digits (MTI, STAN, MMDDhhmmss, 2 x 11 IDs)")
        return text


def decode(text: str) -> OriginalData:
    if len(text) != 42 or not text.isdigit():
        raise De90Error("DE 90 must be 42 digits")
    return OriginalData(text[:4], text[4:10], text[10:20], text[20:31], text[31:42])

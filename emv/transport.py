"""The kernel's one port to a card.

The transport returns the full response APDU (data followed by SW1 SW2) and owns
the T=0 details: it answers 61xx with GET RESPONSE and re-issues on 6Cxx, so the
kernel only ever sees final status words.
"""

from __future__ import annotations

from typing import Protocol

from emv.errors import EmvError


class CardTransportError(EmvError):
    """The card could not be reached (removed, reader gone, time-out)."""


class CardTransport(Protocol):
    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU; return response data + SW1 SW2.

        Raises CardTransportError (or a subclass) when the card is gone.
        """
        ...

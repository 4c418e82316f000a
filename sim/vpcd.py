"""Put a virtual card behind Debian's pcscd through vsmartcard-vpcd.

``serve(card)`` blocks until Ctrl-C (or vpcd goes); ``start(card)`` returns a
running connection for tests. A card pulled by a fault closes the socket, which
pcscd reports to its client as "card removed".
"""

from __future__ import annotations

import contextlib
import socket

from sim.card.card import CardPulledError
from sim.vpicc import VPCD_HOST, VPCD_PORT, ApduCard, VpiccConnection, VpiccError


class _PullableCard:
    """Turns a pulled card into a broken link, which vpicc's loop treats as the end."""

    def __init__(self, card: ApduCard) -> None:
        self.card = card
        self.atr = card.atr

    def power_on(self) -> None:
        self.card.power_on()

    def power_off(self) -> None:
        self.card.power_off()

    def process_apdu(self, apdu: bytes) -> bytes:
        try:
            return self.card.process_apdu(apdu)
        except CardPulledError as error:
            raise VpiccError(str(error)) from None


class VpcdCard(VpiccConnection):
    """A vpicc link that closes its socket when its loop ends, so vpcd sees the card go."""

    def __init__(self, card: ApduCard, host: str = VPCD_HOST, port: int = VPCD_PORT) -> None:
        super().__init__(_PullableCard(card), host, port)

    def serve_forever(self) -> None:
        try:
            super().serve_forever()
        finally:
            sock = self._sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def start(card: ApduCard, port: int = VPCD_PORT, host: str = VPCD_HOST) -> VpcdCard:
    """Connect ``card`` to vpcd and serve it on a daemon thread; ``.stop()`` pulls it."""
    return VpcdCard(card, host, port).serve_in_thread()  # type: ignore[return-value]


def serve(card: ApduCard, port: int = VPCD_PORT, host: str = VPCD_HOST) -> None:
    """Serve ``card`` to vpcd in the foreground until Ctrl-C or the link breaks."""
    link = VpcdCard(card, host, port)
    link.connect()
    try:
        link.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        link.stop()
    if link.error is not None:
        raise link.error

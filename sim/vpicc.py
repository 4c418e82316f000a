"""A virtual card's side of vsmartcard's vpicc protocol, so any card emulator can
sit behind Debian's pcscd (vsmartcard-vpcd) and be reached through real PC/SC.

Wire format (vsmartcard vpcd/vpicc): every message is a 2-byte big-endian length
and a payload. A 1-byte payload is a control code: 0 power off, 1 power on,
2 reset (none of these is answered) and 4 "send the ATR". Any longer payload is a
command APDU, answered with the response APDU.

vpcd writes length and payload separately with Nagle on; re-arming TCP_QUICKACK
after every recv avoids a ~44 ms delayed-ACK stall per APDU (measured, see
shared notes on PC/SC in CI).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Protocol

from sim.errors import SimError

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963  # "Virtual PCD 00 00"; 35964 is "Virtual PCD 00 01"

CONTROL_POWER_OFF = 0
CONTROL_POWER_ON = 1
CONTROL_RESET = 2
CONTROL_GET_ATR = 4

# A plain T=1 ATR (direct convention, T=1 offered, no historical bytes) with TCK.
DEFAULT_ATR = bytes.fromhex("3B8080010101")


class VpiccError(SimError):
    """The link to vpcd failed or broke."""


class ApduCard(Protocol):
    """What a card emulator offers the reader: ATR, power events and APDUs."""

    atr: bytes

    def power_on(self) -> None: ...

    def power_off(self) -> None: ...

    def process_apdu(self, apdu: bytes) -> bytes: ...


class FunctionCard:
    """Adapts a plain ``apdu -> response`` function to :class:`ApduCard`."""

    def __init__(self, handler: Callable[[bytes], bytes], atr: bytes = DEFAULT_ATR) -> None:
        self.atr = atr
        self._handler = handler

    def power_on(self) -> None:
        pass

    def power_off(self) -> None:
        pass

    def process_apdu(self, apdu: bytes) -> bytes:
        return self._handler(apdu)


def _quickack(sock: socket.socket) -> None:
    if hasattr(socket, "TCP_QUICKACK"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        _quickack(sock)
        if not chunk:
            raise VpiccError("vpcd closed the connection")
        chunks += chunk
    return bytes(chunks)


class VpiccConnection:
    """Connects one card to vpcd and serves it until :meth:`stop` (or vpcd goes).

    ``serve_in_thread()`` runs the loop on a daemon thread; ``stop()`` closes the
    socket, which vpcd sees as the card being pulled.
    """

    def __init__(self, card: ApduCard, host: str = VPCD_HOST, port: int = VPCD_PORT) -> None:
        self.card = card
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.error: Exception | None = None

    def connect(self, timeout: float = 5.0) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except OSError as error:
            raise VpiccError(f"cannot reach vpcd at {self.host}:{self.port}: {error}") from error
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _quickack(sock)
        self._sock = sock

    def serve_forever(self) -> None:
        if self._sock is None:
            self.connect()
        sock = self._sock
        assert sock is not None
        try:
            while not self._stopping.is_set():
                size = int.from_bytes(_recv_exact(sock, 2), "big")
                payload = _recv_exact(sock, size)
                reply = self._handle(payload)
                if reply is not None:
                    sock.sendall(len(reply).to_bytes(2, "big") + reply)
                    _quickack(sock)
        except (OSError, VpiccError) as error:
            if not self._stopping.is_set():
                self.error = error

    def _handle(self, payload: bytes) -> bytes | None:
        if len(payload) == 1:
            code = payload[0]
            if code == CONTROL_GET_ATR:
                return self.card.atr
            if code == CONTROL_POWER_ON:
                self.card.power_on()
            elif code in (CONTROL_POWER_OFF, CONTROL_RESET):
                self.card.power_off()
                if code == CONTROL_RESET:
                    self.card.power_on()
            return None
        return self.card.process_apdu(payload)

    def serve_in_thread(self) -> VpiccConnection:
        self.connect()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="vpicc")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

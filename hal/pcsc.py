"""PC/SC readers (pyscard's ``smartcard.scard``), contact and contactless.

The reader is watched with ``SCardGetStatusChange`` (plus the PnP pseudo-reader, so
a reader that is unplugged and comes back is noticed); cards are reached with
``SCardConnect`` / ``SCardTransmit`` on T=0 or T=1. The session owns the T=0 status
words the kernel must never see: 61xx is answered with GET RESPONSE and 6Cxx
re-issues the command with the right Le (ISO/IEC 7816-3, 12.2 / EMV Book 1, 9.3).

Card-side failures raise :class:`emv.transport.CardTransportError` subclasses
(CardRemovedError, CardTimeoutError, ReaderGoneError); reader-side failures raise
:class:`PcscError` subclasses.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from smartcard import scard

from emv.transport import CardTransportError
from hal.apdu import (
    CardCommunicationError,
    CardProtocolError,
    CardRemovedError,
    CardTimeoutError,
    ReaderGoneError,
    transmit_resolving,
    with_le,
)
from hal.errors import HalError
from hal.events import (
    CardInserted,
    CardRemoved,
    ContactlessCardPresented,
    ContactlessCardRemoved,
    DeviceError,
    EventQueue,
    ReaderAttached,
    ReaderDetached,
)
from hal.ports import Indicators, PollResult, PollStatus

__all__ = [
    "CardCommunicationError",
    "CardProtocolError",
    "CardRemovedError",
    "CardTimeoutError",
    "NoCardError",
    "PcscCardSession",
    "PcscError",
    "PcscReader",
    "ReaderGoneError",
    "ReaderNotFoundError",
    "list_readers",
    "with_le",
]

PNP_READER = "\\\\?PnP?\\Notification"
MONITOR_POLL_MS = 200
PCSCLITE_ABSENT = 0x0002  # SCardStatus dwState bit in pcsc-lite (pcsclite.h)
POWER_ON_SETTLE = 2.0  # seconds to wait out a card pcscd is still powering

_REMOVED = {
    scard.SCARD_W_REMOVED_CARD,
    scard.SCARD_E_NO_SMARTCARD,
    scard.SCARD_W_RESET_CARD,
    scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_W_UNRESPONSIVE_CARD,
}
_SETTLING = {
    scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_W_UNRESPONSIVE_CARD,
    scard.SCARD_E_SHARING_VIOLATION,
}
_READER_GONE = {
    scard.SCARD_E_READER_UNAVAILABLE,
    scard.SCARD_E_UNKNOWN_READER,
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_E_INVALID_HANDLE,
    scard.SCARD_E_NO_READERS_AVAILABLE,
}


def _code(hresult: int) -> int:
    return hresult & 0xFFFFFFFF if hresult < 0 else hresult


def describe(hresult: int) -> str:
    return f"{scard.SCardGetErrorMessage(hresult).strip()} (0x{_code(hresult):08X})"


class PcscError(HalError):
    """PC/SC failed: which reader, which call, which status."""


class ReaderNotFoundError(PcscError):
    pass


class NoCardError(PcscError):
    """power_on with no card in the reader."""


def _establish() -> Any:
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise PcscError(f"cannot reach pcscd: {describe(hresult)}")
    return context


def list_readers() -> list[str]:
    """Reader names pcscd knows now (empty when none, PcscError when pcscd is absent)."""
    context = _establish()
    try:
        hresult, readers = scard.SCardListReaders(context, [])
        if hresult in (scard.SCARD_E_NO_READERS_AVAILABLE,):
            return []
        if hresult != scard.SCARD_S_SUCCESS:
            raise PcscError(f"SCardListReaders failed: {describe(hresult)}")
        return list(readers)
    finally:
        scard.SCardReleaseContext(context)


class PcscCardSession:
    """A connected card: the kernel's CardTransport.

    ``command_timeout`` bounds each SCardTransmit; after a time-out the session is
    dead and every later call raises CardTimeoutError (the card must be re-powered).
    """

    def __init__(
        self, reader: PcscReader, context: Any, handle: Any, protocol: int, atr: bytes
    ) -> None:
        self.reader = reader
        self._context = context
        self._handle = handle
        self.protocol = protocol
        self._atr = atr
        self._dead: CardTransportError | None = None
        # one worker owns SCardTransmit so a stalled card cannot block the caller past
        # command_timeout; SimpleQueue hand-offs keep the added latency small
        self._requests: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._replies: queue.SimpleQueue[tuple[int, list[int]]] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._work, daemon=True, name="hal-pcsc")
        self._worker.start()

    def _work(self) -> None:
        handle, protocol = self._handle, self.protocol
        while True:
            apdu = self._requests.get()
            if apdu is None:
                return
            self._replies.put(scard.SCardTransmit(handle, protocol, list(apdu)))

    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def protocol_name(self) -> str:
        return "T=1" if self.protocol == scard.SCARD_PROTOCOL_T1 else "T=0"

    def _raw(self, apdu: bytes) -> bytes:
        if self._dead is not None:
            raise self._dead
        self._requests.put(apdu)
        try:
            hresult, response = self._replies.get(timeout=self.reader.command_timeout)
        except queue.Empty:
            self._dead = CardTimeoutError(
                f"{self.reader.name}: no answer within {self.reader.command_timeout:g} s "
                f"to INS {apdu[1]:02X}"
            )
            raise self._dead from None
        if hresult != scard.SCARD_S_SUCCESS:
            raise self._transmit_error(hresult, apdu)
        return bytes(response)

    def _transmit_error(self, hresult: int, apdu: bytes) -> CardTransportError:
        what = f"{self.reader.name}: INS {apdu[1]:02X}: {describe(hresult)}"
        if hresult in _REMOVED:
            self._dead = CardRemovedError(what)
            return self._dead
        if hresult in _READER_GONE:
            self._dead = ReaderGoneError(what)
            return self._dead
        if hresult == scard.SCARD_E_TIMEOUT:
            return CardTimeoutError(what)
        if self._card_gone():
            self._dead = CardRemovedError(what)
            return self._dead
        return CardCommunicationError(what)

    def _card_gone(self) -> bool:
        hresult, _, state, _, _ = scard.SCardStatus(self._handle)
        return hresult in _REMOVED or (
            hresult == scard.SCARD_S_SUCCESS and bool(state & PCSCLITE_ABSENT)
        )

    def transmit(self, apdu: bytes) -> bytes:
        """Send ``apdu``; return data + final SW1 SW2 (61xx / 6Cxx handled here).

        Raises CardRemovedError, CardTimeoutError, ReaderGoneError, CardProtocolError.
        """
        return transmit_resolving(self._raw, apdu, self.reader.name)

    def close(self, disposition: int = scard.SCARD_UNPOWER_CARD) -> None:
        if self._handle is not None:
            scard.SCardDisconnect(self._handle, disposition)
            self._handle = None
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None
        self._requests.put(None)


class PcscReader:
    """The ContactReader (and, for a PC/SC contactless reader, ContactlessReader) port.

    ``name`` matches the reader exactly or as a prefix (pcscd may append a slot
    suffix). Raises PcscError when pcscd cannot be reached.
    """

    indicators: Indicators | None = None

    def __init__(
        self,
        name: str,
        contactless: bool = False,
        command_timeout: float = 10.0,
        source: str | None = None,
        protocols: int = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
    ) -> None:
        self.name = name
        self.contactless = contactless
        self.command_timeout = command_timeout
        self.source = source or f"pcsc://{name}"
        self.protocols = protocols
        self.session: PcscCardSession | None = None
        self._queue: EventQueue | None = None
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self._monitor_context: Any = None

    # --- discovery and presence --------------------------------------------------------

    def resolve(self) -> str:
        """The full reader name pcscd uses; raises ReaderNotFoundError."""
        readers = list_readers()
        for reader in readers:
            if reader == self.name:
                return reader
        for reader in readers:
            if reader.startswith(self.name):
                return reader
        raise ReaderNotFoundError(
            f"no PC/SC reader named {self.name!r} (have: {', '.join(readers) or 'none'})"
        )

    def _state(self, timeout_ms: int, known: int = scard.SCARD_STATE_UNAWARE) -> tuple[int, bytes]:
        context = _establish()
        try:
            hresult, states = scard.SCardGetStatusChange(
                context, timeout_ms, [(self.resolve(), known)]
            )
            if hresult == scard.SCARD_E_TIMEOUT:
                return known, b""
            if hresult != scard.SCARD_S_SUCCESS:
                raise PcscError(f"{self.name}: SCardGetStatusChange failed: {describe(hresult)}")
            _, event_state, atr = states[0]
            return event_state & ~scard.SCARD_STATE_CHANGED, bytes(atr)
        finally:
            scard.SCardReleaseContext(context)

    def card_present(self) -> bool:
        state, _ = self._state(0)
        return bool(state & scard.SCARD_STATE_PRESENT) and not state & scard.SCARD_STATE_MUTE

    def _wait(self, present: bool, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        state, _ = self._state(0)
        while True:
            if bool(state & scard.SCARD_STATE_PRESENT) == present:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            state, _ = self._state(max(1, min(int(remaining * 1000), 500)), state)

    def wait_for_card(self, timeout: float) -> bool:
        return self._wait(True, timeout)

    def wait_for_removal(self, timeout: float) -> bool:
        return self._wait(False, timeout)

    # --- power --------------------------------------------------------------------------

    def power_on(self) -> PcscCardSession:
        """Connect (cold reset) and return the session; raises NoCardError, PcscError."""
        self.power_off()
        context = _establish()
        try:
            reader = self.resolve()
            deadline = time.monotonic() + POWER_ON_SETTLE
            while True:
                hresult, handle, protocol = scard.SCardConnect(
                    context, reader, scard.SCARD_SHARE_SHARED, self.protocols
                )
                # right after insertion pcscd may still be powering the card
                if hresult not in _SETTLING or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            if hresult in (scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_REMOVED_CARD):
                raise NoCardError(f"{self.name}: no card")
            if hresult != scard.SCARD_S_SUCCESS:
                raise PcscError(f"{self.name}: SCardConnect failed: {describe(hresult)}")
            hresult, _, _, _, atr = scard.SCardStatus(handle)
            if hresult != scard.SCARD_S_SUCCESS:
                scard.SCardDisconnect(handle, scard.SCARD_UNPOWER_CARD)
                raise NoCardError(f"{self.name}: card left during power-on: {describe(hresult)}")
        except BaseException:
            scard.SCardReleaseContext(context)
            raise
        self.session = PcscCardSession(self, context, handle, protocol, bytes(atr))
        return self.session

    def power_off(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    # --- contactless port ---------------------------------------------------------------

    def poll(self, timeout: float) -> PollResult:
        """A PC/SC contactless reader resolves collisions itself: one card or none."""
        if self.wait_for_card(timeout):
            return PollResult(PollStatus.ONE_CARD, 1)
        return PollResult(PollStatus.NO_CARD)

    def activate(self) -> PcscCardSession:
        return self.power_on()

    def deactivate(self) -> None:
        self.power_off()

    # --- events -------------------------------------------------------------------------

    def attach(self, queue: EventQueue) -> None:
        """Post insert/remove (or present/removed) and reader detach/attach events."""
        self._queue = queue
        if self._monitor is None:
            self._stop.clear()
            self._monitor = threading.Thread(
                target=self._watch, daemon=True, name="hal-pcsc-monitor"
            )
            self._monitor.start()

    def _post(self, present: bool, atr: bytes) -> None:
        if self._queue is None:
            return
        if self.contactless:
            event: Any = (
                ContactlessCardPresented(source=self.source)
                if present
                else ContactlessCardRemoved(source=self.source)
            )
        elif present:
            event = CardInserted(source=self.source, reader=self.name, atr=atr)
        else:
            event = CardRemoved(source=self.source, reader=self.name)
        self._queue.put(event)

    def _watch(self) -> None:
        present = False
        attached = True
        while not self._stop.is_set():
            try:
                context = _establish()
            except PcscError as error:
                self._notify(DeviceError(source=self.source, reason=str(error)))
                self._stop.wait(1.0)
                continue
            self._monitor_context = context
            try:
                present, attached = self._watch_context(context, present, attached)
            finally:
                self._monitor_context = None
                scard.SCardReleaseContext(context)

    def _notify(self, event: Any) -> None:
        if self._queue is not None:
            self._queue.put(event)

    def _watch_context(self, context: Any, present: bool, attached: bool) -> tuple[bool, bool]:
        state = scard.SCARD_STATE_UNAWARE
        while not self._stop.is_set():
            try:
                reader = self.resolve()
            except PcscError:
                reader = None
            if reader is None:
                if attached:
                    attached = False
                    if present:
                        present = False
                        self._post(False, b"")
                    self._notify(ReaderDetached(source=self.source, reader=self.name))
                # wait for any reader to appear (PnP), then look again
                scard.SCardGetStatusChange(
                    context, MONITOR_POLL_MS, [(PNP_READER, scard.SCARD_STATE_UNAWARE)]
                )
                self._stop.wait(MONITOR_POLL_MS / 1000)
                continue
            if not attached:
                attached = True
                state = scard.SCARD_STATE_UNAWARE
                self._notify(ReaderAttached(source=self.source, reader=self.name))
            hresult, states = scard.SCardGetStatusChange(
                context, MONITOR_POLL_MS, [(reader, state)]
            )
            if hresult == scard.SCARD_E_TIMEOUT:
                continue
            if hresult in (
                scard.SCARD_E_NO_SERVICE,
                scard.SCARD_E_SERVICE_STOPPED,
                scard.SCARD_E_INVALID_HANDLE,
            ):
                return present, attached  # re-establish the context
            if hresult != scard.SCARD_S_SUCCESS:
                state = scard.SCARD_STATE_UNAWARE
                self._stop.wait(MONITOR_POLL_MS / 1000)
                continue
            _, event_state, atr = states[0]
            state = event_state & ~scard.SCARD_STATE_CHANGED
            if state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                continue  # reader going away: resolve() notices on the next round
            now_present = bool(state & scard.SCARD_STATE_PRESENT)
            if now_present != present:
                present = now_present
                self._post(present, bytes(atr))
        return present, attached

    def close(self) -> None:
        self._stop.set()
        context = self._monitor_context
        if context is not None:
            scard.SCardCancel(context)
        if self._monitor is not None:
            self._monitor.join(timeout=2)
            self._monitor = None
        self.power_off()


def open_url(kind: str, url: Any, **options: Any) -> PcscReader:
    """``pcsc://Virtual PCD 00 00?timeout=10``"""
    query = {**url.query, **options}
    return PcscReader(
        url.target,
        contactless=kind == "contactless_reader",
        command_timeout=float(query.get("timeout", 10.0)),
    )

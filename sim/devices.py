"""Simulated devices behind the hal ports, opened by ``sim://`` URLs.

``open_device(kind, url, **options)`` is the ``posterm.drivers`` entry point that
``hal.registry`` calls for ``sim://``; the terminal never imports this module.
Each device records what it was asked to do so tests and the demo can look.
"""

from __future__ import annotations

import datetime
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from hal.apdu import CardRemovedError, transmit_resolving
from hal.events import (
    CardInserted,
    CardRemoved,
    ContactlessCardPresented,
    ContactlessCardRemoved,
    EventQueue,
    InputRejected,
    Key,
    MagstripeSwiped,
    PrinterStatus,
    PrinterStatusChanged,
    QrScanned,
)
from hal.keyrouter import KeyRouter
from hal.magstripe import MagstripeError, encode_track1, encode_track2, parse_swipe
from hal.ports import Beep, Light, PinSink, PollResult, PollStatus, PrintItem, TextLine
from hal.serial_qr import QrFrameError, check_payload
from hal.textprinter import DEFAULT_COLUMNS, render_text
from sim.errors import SimError
from sim.vpicc import ApduCard


class SimDeviceError(SimError):
    """A simulated device was used wrongly (not attached, unknown key label)."""


def _keys(text: str | Iterable[str | Key]) -> list[Key]:
    """``"1234E"`` or ``["1", "ENTER"]`` → keys.

    In a string E=ENTER, C=CANCEL, X=CLEAR, B=BACKSPACE.
    """
    letters = {"E": Key.ENTER, "C": Key.CANCEL, "X": Key.CLEAR, "B": Key.BACKSPACE}
    keys: list[Key] = []
    items: Iterable[str | Key] = text
    for item in items:
        if isinstance(item, Key):
            keys.append(item)
        elif isinstance(text, str) and item.upper() in letters:
            keys.append(letters[item.upper()])
        else:
            try:
                keys.append(Key.parse(item))
            except (KeyError, ValueError):
                raise SimDeviceError(f"unknown key label {item!r}") from None
    return keys


class SimKeypad:
    """A scriptable keypad. ``pin`` is typed (then ENTER) each time secure PIN mode
    starts — how ``posterm pay --pin`` reaches the PIN pad without a person.
    ``keys`` (``sim://?keys=1001E1111E``) are pressed once, ``key_delay`` seconds after
    ``attach`` and apart — a scripted operator for a real ``posterm run`` process."""

    def __init__(
        self,
        pin: str | None = None,
        source: str = "sim-keypad",
        keys: str | None = None,
        key_delay: float = 0.0,
    ) -> None:
        self.pin = pin
        self.router = KeyRouter(source)
        self.script = _keys(keys) if keys else []
        self.key_delay = key_delay

    def attach(self, queue: EventQueue) -> None:
        self.router.attach(queue)
        if self.script:
            script, self.script = self.script, []
            threading.Thread(
                target=self._type, args=(script,), daemon=True, name="sim-keypad-script"
            ).start()

    def _type(self, script: list[Key]) -> None:
        for key in script:
            if self.key_delay:
                threading.Event().wait(self.key_delay)
            self.router.press(key)

    def set_pin_sink(self, sink: PinSink | None) -> None:
        self.router.set_pin_sink(sink)
        if sink is not None and self.pin is not None:
            self.press([*_keys(self.pin), Key.ENTER])

    def press(self, keys: str | Iterable[str | Key]) -> None:
        """Press keys in order; in PIN mode they go to the PIN sink, not the queue.

        Raises KeyRouteError when the keypad was never attached.
        """
        for key in _keys(keys) if isinstance(keys, str) else _keys(list(keys)):
            self.router.press(key)

    def close(self) -> None:
        pass


class SimDisplay:
    """Records every screen; optionally echoes it framed to a stream."""

    def __init__(self, columns: int = 21, rows: int = 8, stream: TextIO | None = None) -> None:
        self.columns = columns
        self.rows = rows
        self.stream = stream
        self.screens: list[tuple[str, ...]] = []
        self._lock = threading.Lock()

    def show(self, lines: Sequence[str | TextLine]) -> None:
        from hal.display import layout  # the same layout the TTY driver draws

        screen = tuple(layout(lines, self.columns, self.rows))
        with self._lock:
            self.screens.append(screen)
        if self.stream is not None:
            border = "+" + "-" * self.columns + "+"
            body = "\n".join(f"|{row}|" for row in screen)
            self.stream.write(f"{border}\n{body}\n{border}\n")
            self.stream.flush()

    @property
    def current(self) -> tuple[str, ...]:
        with self._lock:
            return (
                self.screens[-1]
                if self.screens
                else tuple(" " * self.columns for _ in range(self.rows))
            )

    def clear(self) -> None:
        self.show([])

    def close(self) -> None:
        pass


class SimPrinter:
    """Renders receipts as text to a file, a stream, or only memory (``printed``).

    ``set_status`` simulates paper out / cover open; print then holds the receipt.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        stream: TextIO | None = None,
        columns: int = DEFAULT_COLUMNS,
        source: str = "sim-printer",
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.stream = stream
        self.columns = columns
        self.source = source
        self.printed: list[str] = []
        self._status = PrinterStatus.OK
        self._queue: EventQueue | None = None

    def attach(self, queue: EventQueue) -> None:
        self._queue = queue

    def set_status(self, status: PrinterStatus) -> None:
        changed = status != self._status
        self._status = status
        if changed and self._queue is not None:
            self._queue.put(PrinterStatusChanged(source=self.source, status=status))

    def status(self) -> PrinterStatus:
        return self._status

    def print(self, items: Sequence[PrintItem]) -> PrinterStatus:
        if self._status is not PrinterStatus.OK:
            return self._status
        text = render_text(items, self.columns)
        self.printed.append(text)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(text)
        if self.stream is not None:
            self.stream.write(text)
            self.stream.flush()
        return PrinterStatus.OK

    def close(self) -> None:
        pass


class SimIndicators:
    """Records the lights and beeps asked for."""

    def __init__(self) -> None:
        self.lights = Light.NONE
        self.history: list[Light | Beep] = []

    def set_lights(self, lights: Light) -> None:
        self.lights = lights
        self.history.append(lights)

    def beep(self, kind: Beep = Beep.SUCCESS) -> None:
        self.history.append(kind)

    def close(self) -> None:
        pass


class SimQrScanner:
    """``scan(payload)`` as if a code were read; the same checks as the serial scanner."""

    def __init__(self, max_length: int = 512, source: str = "sim-qr") -> None:
        self.max_length = max_length
        self.source = source
        self._queue: EventQueue | None = None

    def attach(self, queue: EventQueue) -> None:
        self._queue = queue

    def scan(self, payload: str | bytes) -> None:
        if self._queue is None:
            raise SimDeviceError("scanner used before attach()")
        raw = payload.encode() if isinstance(payload, str) else payload
        try:
            text = check_payload(raw, self.max_length)
        except QrFrameError as error:
            self._queue.put(InputRejected(source=self.source, reason=str(error)))
            return
        self._queue.put(QrScanned(source=self.source, payload=text))

    def close(self) -> None:
        self._queue = None


class SimMagstripe:
    """``swipe(track1, track2)`` as if a card were swiped (sentinels and LRC added
    and checked by the same parser as the serial reader); ``swipe_raw`` for bad swipes."""

    def __init__(
        self, source: str = "sim-magstripe", tracks: tuple[str, str] | None = None
    ) -> None:
        self.source = source
        self.tracks = tracks
        self._queue: EventQueue | None = None

    def attach(self, queue: EventQueue) -> None:
        """With ``tracks`` (``sim://PROFILE``: that sim.card profile's tracks) the card
        is swiped at once — how ``posterm pay --entry swipe`` gets a swipe without a
        person, as SimKeypad types ``--pin``. The swipe waits in the queue until the
        flow asks for one (events it does not want stay queued)."""
        self._queue = queue
        if self.tracks is not None:
            self.swipe(self.tracks[0] or None, self.tracks[1] or None)

    def swipe(self, track1: str | None = None, track2: str | None = None) -> None:

        raw = (encode_track1(track1) if track1 else b"") + (
            encode_track2(track2) if track2 else b""
        )
        self.swipe_raw(raw)

    def swipe_raw(self, raw: bytes) -> None:
        if self._queue is None:
            raise SimDeviceError("reader used before attach()")
        try:
            swipe = parse_swipe(raw)
        except MagstripeError as error:
            self._queue.put(InputRejected(source=self.source, reason=str(error)))
            return
        self._queue.put(
            MagstripeSwiped(source=self.source, track1=swipe.track1, track2=swipe.track2)
        )

    def close(self) -> None:
        self._queue = None


class SimClock:
    """An injectable clock that moves only when told (``advance``)."""

    def __init__(
        self, start: datetime.datetime | None = None, monotonic_start: float = 1000.0
    ) -> None:
        self._now = start or datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)
        if self._now.tzinfo is None:
            self._now = self._now.replace(tzinfo=datetime.UTC)
        self._monotonic = monotonic_start
        self._lock = threading.Lock()

    def now(self) -> datetime.datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._monotonic += seconds
            self._now += datetime.timedelta(seconds=seconds)

    def set(self, when: datetime.datetime) -> None:
        with self._lock:
            self._now = when if when.tzinfo else when.replace(tzinfo=datetime.UTC)


class _SimCardSession:
    """A card in a simulated reader, as the kernel's CardTransport."""

    def __init__(self, reader: SimCardReader, card: ApduCard) -> None:
        self.reader = reader
        self.card = card

    @property
    def atr(self) -> bytes:
        return self.card.atr

    def _raw(self, apdu: bytes) -> bytes:
        if self.reader.card is not self.card:
            raise CardRemovedError(f"{self.reader.name}: card removed")
        try:
            return self.card.process_apdu(apdu)
        except SimError as error:  # sim.card's CardPulledError and kin
            self.reader.remove()
            raise CardRemovedError(f"{self.reader.name}: {error}") from None

    def transmit(self, apdu: bytes) -> bytes:
        return transmit_resolving(self._raw, apdu, self.reader.name)


class SimCardReader:
    """An in-process contact or contactless reader: ``insert(card)`` / ``remove()``.

    No pcscd needed; for the real PC/SC path put the card behind vpcd instead
    (``posterm sim card PROFILE --vpcd``) and use ``pcsc://``.
    """

    indicators: Any = None

    def __init__(self, name: str = "sim-reader", contactless: bool = False) -> None:
        self.name = name
        self.contactless = contactless
        self.card: ApduCard | None = None
        self.session: _SimCardSession | None = None
        self._queue: EventQueue | None = None
        self._changed = threading.Condition()

    def attach(self, queue: EventQueue) -> None:
        self._queue = queue
        if self.card is not None:
            self._announce(True)

    def _announce(self, present: bool) -> None:
        if self._queue is None:
            return
        if self.contactless:
            event: Any = (
                ContactlessCardPresented(source=self.name)
                if present
                else ContactlessCardRemoved(source=self.name)
            )
        elif present:
            event = CardInserted(
                source=self.name, reader=self.name, atr=self.card.atr if self.card else b""
            )
        else:
            event = CardRemoved(source=self.name, reader=self.name)
        self._queue.put(event)

    def insert(self, card: ApduCard) -> None:
        with self._changed:
            self.card = card
            self._changed.notify_all()
        self._announce(True)

    def remove(self) -> None:
        with self._changed:
            had = self.card is not None
            self.card = None
            self.session = None
            self._changed.notify_all()
        if had:
            self._announce(False)

    def card_present(self) -> bool:
        return self.card is not None

    def _wait(self, present: bool, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: (self.card is not None) == present, timeout)

    def wait_for_card(self, timeout: float) -> bool:
        return self._wait(True, timeout)

    def wait_for_removal(self, timeout: float) -> bool:
        return self._wait(False, timeout)

    def power_on(self) -> _SimCardSession:
        card = self.card
        if card is None:
            raise SimDeviceError(f"{self.name}: no card")
        card.power_on()
        self.session = _SimCardSession(self, card)
        return self.session

    def power_off(self) -> None:
        if self.session is not None and self.card is not None:
            self.card.power_off()
        self.session = None

    def poll(self, timeout: float) -> PollResult:
        if self._wait(True, timeout):
            return PollResult(PollStatus.ONE_CARD, 1)
        return PollResult(PollStatus.NO_CARD)

    def activate(self) -> _SimCardSession:
        return self.power_on()

    def deactivate(self) -> None:
        self.power_off()

    def close(self) -> None:
        self.power_off()


def _stream(option: Any) -> TextIO | None:
    if option in (None, ""):
        return None
    if option == "stdout":
        return sys.stdout
    if option == "stderr":
        return sys.stderr
    return option  # type: ignore[no-any-return]


def open_device(kind: str, url: str, **options: Any) -> Any:
    """The device of ``kind`` for ``sim://...``; query parameters act as options.

    ``sim://?pin=1234`` or ``pin="1234"`` (keypad; ``keys=``/``key_delay=`` a script),
    ``columns``/``rows`` (display),
    ``path`` or ``stream="stdout"`` (printer, display). ``sim://PROFILE`` for a reader
    inserts a sim.card VirtualCard of that profile (``sim://`` for an empty reader);
    ``sim://PROFILE`` for a magstripe reader swipes that profile's tracks when attached.
    The host belongs to sim.host and is delegated there.
    """
    from hal.registry import parse_url

    parsed = parse_url(url)
    opts: dict[str, Any] = {**parsed.query, **options}
    if kind == "keypad":
        return SimKeypad(
            pin=opts.get("pin"), keys=opts.get("keys"), key_delay=float(opts.get("key_delay", 0))
        )
    if kind == "display":
        return SimDisplay(
            int(opts.get("columns", 21)), int(opts.get("rows", 8)), _stream(opts.get("stream"))
        )
    if kind == "printer":
        return SimPrinter(
            opts.get("path"), _stream(opts.get("stream")), int(opts.get("columns", DEFAULT_COLUMNS))
        )
    if kind == "indicators":
        return SimIndicators()
    if kind == "qr_scanner":
        return SimQrScanner(int(opts.get("max_length", 512)))
    if kind == "magstripe":
        profile = parsed.target.strip("/")
        if not profile:
            return SimMagstripe()
        from sim.card.profile import load_profile

        return SimMagstripe(tracks=load_profile(profile).tracks)
    if kind == "clock":
        return SimClock()
    if kind in ("contact_reader", "contactless_reader"):
        reader = SimCardReader(url, contactless=kind == "contactless_reader")
        profile = parsed.target.strip("/")
        if profile:
            from sim.card import VirtualCard

            reader.insert(VirtualCard(profile))
        return reader
    if kind == "host":
        return _delegate(kind, url, opts)
    raise SimDeviceError(f"no simulated {kind} for {url!r}")


def _delegate(kind: str, url: str, options: dict[str, Any]) -> Any:
    """The host simulator lives in sim.host (another issue)."""
    import importlib

    module_name = "sim.host"
    try:
        module = importlib.import_module(module_name)
        opener = module.open_device
    except (ImportError, AttributeError):
        raise SimDeviceError(
            f"no simulated {kind} for {url!r}: {module_name}.open_device is missing"
        ) from None
    return opener(kind, url, **options)

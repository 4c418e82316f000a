"""Serial magnetic-stripe reader (pyserial): tracks 1 and 2, sentinels and LRC checked.

The reader sends each track as start sentinel, data, end sentinel and the LRC
character (``%…?L`` then ``;…?L``), the swipe ended by a suffix (CR). Track data
is cardholder data: it goes only into the MagstripeSwiped event (kept out of its
repr) and never into an error message, a log line or an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hal.errors import HalError
from hal.events import MagstripeSwiped
from hal.serialport import SerialFrameReader, SerialInputDevice, url_options


@dataclass(frozen=True, slots=True)
class TrackFormat:
    """One ISO/IEC 7811-2 character set: ASCII ``base`` maps to code 0."""

    number: int
    base: int  # ASCII of code 0: 0x20 for the 6-bit set, 0x30 for the 5-bit set
    data_bits: int  # 6 (track 1, alphanumeric) or 4 (track 2, numeric)
    start: str
    end: str = "?"
    max_chars: int = 79  # including sentinels and LRC

    def code(self, char: str) -> int:
        return ord(char) - self.base

    def valid(self, char: str) -> bool:
        return 0 <= ord(char) - self.base < (1 << self.data_bits)


# ISO/IEC 7811-2: track 1 IATA 6-bit + parity, max 79 characters; track 2 ABA
# 4-bit + parity, max 40 characters (both counts include sentinels and LRC).
TRACK1 = TrackFormat(1, 0x20, 6, "%", max_chars=79)
TRACK2 = TrackFormat(2, 0x30, 4, ";", max_chars=40)
CONTROL_CHARS = {TRACK1: set("%?"), TRACK2: set(";?")}


class MagstripeError(HalError):
    """A swipe that cannot be trusted; says which track and why, never the data."""


class SentinelError(MagstripeError):
    pass


class LrcError(MagstripeError):
    pass


class TrackCharacterError(MagstripeError):
    pass


class TrackLengthError(MagstripeError):
    pass


class TrackReadError(MagstripeError):
    """The reader itself reported it could not read a track (``%E?`` / ``;E?``)."""


def parity_bit(code: int, data_bits: int) -> int:
    """The odd-parity bit for a character code (ISO/IEC 7811-2: odd parity)."""
    return 0 if bin(code & ((1 << data_bits) - 1)).count("1") % 2 else 1


def lrc(fmt: TrackFormat, chars: str) -> int:
    """LRC code over start sentinel..end sentinel: even parity per bit column, i.e.
    XOR of the data bits (ISO/IEC 7811-2); its own parity bit is odd as for any char."""
    value = 0
    for char in chars:
        value ^= fmt.code(char)
    return value


class ParityError(MagstripeError):
    pass


def raw_character(fmt: TrackFormat, char: str) -> int:
    """A character as read off the stripe: data bits (LSB first) and the odd-parity bit
    on top (ISO/IEC 7811-2: 7 bits on track 1, 5 bits on track 2)."""
    code = fmt.code(char)
    return code | parity_bit(code, fmt.data_bits) << fmt.data_bits


def decode_raw_track(fmt: TrackFormat, raw: bytes) -> str:
    """Characters as read off the stripe (one per byte, parity on top) → track data.

    For readers that deliver undecoded characters: each character's odd parity is
    checked, then sentinels and the LRC as for the ASCII form (the LRC character's
    own parity is odd like any other). Raises ParityError or the other MagstripeErrors.
    """
    mask = (1 << fmt.data_bits) - 1
    text = []
    for offset, value in enumerate(raw):
        code = value & mask
        if value >> (fmt.data_bits + 1) or value >> fmt.data_bits != parity_bit(
            code, fmt.data_bits
        ):
            raise ParityError(f"track {fmt.number}: parity error at character {offset}")
        text.append(chr(fmt.base + code))
    data, end = _parse_track(fmt, "".join(text), 0) if text and text[0] == fmt.start else ("", -1)
    if end != len(text):
        raise SentinelError(f"track {fmt.number}: not one start sentinel..LRC run")
    return data


def encode_track(fmt: TrackFormat, data: str) -> bytes:
    """Data → sentinels + data + LRC character, as the reader sends it.

    Raises TrackCharacterError / TrackLengthError for data the track cannot hold.
    """
    for offset, char in enumerate(data):
        if not fmt.valid(char) or char in CONTROL_CHARS[fmt]:
            raise TrackCharacterError(
                f"track {fmt.number}: character not allowed at offset {offset}"
            )
    body = fmt.start + data + fmt.end
    if len(body) + 1 > fmt.max_chars:
        raise TrackLengthError(f"track {fmt.number}: longer than {fmt.max_chars} characters")
    return (body + chr(fmt.base + lrc(fmt, body))).encode("ascii")


def encode_track1(data: str) -> bytes:
    return encode_track(TRACK1, data)


def encode_track2(data: str) -> bytes:
    return encode_track(TRACK2, data)


@dataclass(frozen=True, slots=True)
class Swipe:
    track1: str | None = field(default=None, repr=False)
    track2: str | None = field(default=None, repr=False)


def _parse_track(fmt: TrackFormat, text: str, start: int) -> tuple[str, int]:
    """Parse one track beginning at ``text[start]`` (its start sentinel); return its data
    and the index after its LRC character."""
    end = text.find(fmt.end, start + 1)
    if end < 0:
        raise SentinelError(f"track {fmt.number}: no end sentinel")
    body = text[start : end + 1]
    data = body[1:-1]
    # "%E?" / ";E?" without a matching LRC is the reader's own "could not read"
    reader_error = data == "E" and (
        end + 1 >= len(text) or fmt.code(text[end + 1]) != lrc(fmt, body)
    )
    if reader_error:
        raise TrackReadError(f"track {fmt.number}: reader reported a read error")
    if end + 1 >= len(text):
        raise LrcError(f"track {fmt.number}: LRC character missing")
    if len(body) + 1 > fmt.max_chars:
        raise TrackLengthError(f"track {fmt.number}: longer than {fmt.max_chars} characters")
    for offset, char in enumerate(data, start=1):
        if not fmt.valid(char) or char in CONTROL_CHARS[fmt]:
            raise TrackCharacterError(f"track {fmt.number}: invalid character at offset {offset}")
    check = text[end + 1]
    if not fmt.valid(check) or fmt.code(check) != lrc(fmt, body):
        raise LrcError(f"track {fmt.number}: LRC does not match")
    return data, end + 2


def parse_swipe(raw: bytes) -> Swipe:
    """One swipe frame (suffix removed) → its tracks. At least one track must be there.

    Raises MagstripeError subclasses: SentinelError, LrcError, TrackCharacterError,
    TrackLengthError, TrackReadError.
    """
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as error:
        raise TrackCharacterError(f"non-ASCII byte at offset {error.start}") from None
    tracks: dict[int, str] = {}
    index = 0
    while index < len(text):
        char = text[index]
        fmt = TRACK1 if char == TRACK1.start else TRACK2 if char == TRACK2.start else None
        if fmt is None:
            raise SentinelError(f"expected a start sentinel at offset {index}")
        if fmt.number in tracks:
            raise SentinelError(f"track {fmt.number} twice in one swipe")
        tracks[fmt.number], index = _parse_track(fmt, text, index)
    if not tracks:
        raise SentinelError("empty swipe")
    return Swipe(tracks.get(1), tracks.get(2))


class SerialMagstripeReader(SerialInputDevice):
    """The MagStripeReader port over a serial reader.

    Raises SerialDeviceError when the port cannot be opened; bad swipes are posted
    as InputRejected (reason names the track and the rule), the reader carries on.
    """

    def __init__(
        self,
        port: str,
        baudrate: int = 9600,
        suffix: bytes = b"\r",
        idle_timeout: float = 0.5,
        source: str = "magstripe",
    ) -> None:
        self.source = source
        self.reader = SerialFrameReader(
            port,
            self._decode,
            source,
            baudrate=baudrate,
            suffix=suffix,
            max_length=TRACK1.max_chars + TRACK2.max_chars + 8,
            idle_timeout=idle_timeout,
        )

    def _decode(self, frame: bytes) -> MagstripeSwiped:
        swipe = parse_swipe(frame.rstrip(b"\n"))
        return MagstripeSwiped(source=self.source, track1=swipe.track1, track2=swipe.track2)


def open_url(kind: str, url: Any, **options: Any) -> SerialMagstripeReader:
    """``serial:///dev/ttyUSB1?baud=9600&suffix=0d``"""
    opts = url_options(url, options, "magstripe")
    del opts["query"]
    return SerialMagstripeReader(**opts)

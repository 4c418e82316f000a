"""Serial barcode / QR scanner (pyserial): one code per frame, ended by a suffix.

Scanners in "keyboard over serial" mode send the decoded text followed by a
configurable suffix (CR by default). Frames that are too long, empty, not UTF-8
or hold control characters are rejected with an InputRejected event and the
scanner carries on with the next frame.
"""

from __future__ import annotations

from typing import Any

from hal.errors import HalError
from hal.events import QrScanned
from hal.serialport import SerialFrameReader, SerialInputDevice, url_options

DEFAULT_MAX_LENGTH = 512  # EMVCo QR payloads are at most 512 characters


class QrFrameError(HalError):
    """A scanned frame broke the rules; the message never quotes the payload."""


def check_payload(raw: bytes, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """The frame as text, or QrFrameError (empty, too long, not UTF-8, non-printable)."""
    if not raw:
        raise QrFrameError("empty frame")
    if len(raw) > max_length:
        raise QrFrameError(f"frame longer than {max_length} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise QrFrameError(f"not UTF-8 at offset {error.start}") from None
    for offset, char in enumerate(text):
        if not char.isprintable():
            raise QrFrameError(f"non-printable character at offset {offset}")
    return text


class SerialQrScanner(SerialInputDevice):
    """The QrScanner port over a serial scanner.

    Raises SerialDeviceError when the port cannot be opened; later failures are
    posted as DeviceError / DeviceRecovered events.
    """

    def __init__(
        self,
        port: str,
        baudrate: int = 9600,
        suffix: bytes = b"\r",
        max_length: int = DEFAULT_MAX_LENGTH,
        idle_timeout: float = 0.5,
        source: str = "qr",
    ) -> None:
        self.max_length = max_length
        self.source = source
        self.reader = SerialFrameReader(
            port,
            self._decode,
            source,
            baudrate=baudrate,
            suffix=suffix,
            max_length=max_length,
            idle_timeout=idle_timeout,
        )

    def _decode(self, frame: bytes) -> QrScanned:
        return QrScanned(source=self.source, payload=check_payload(frame, self.max_length))


def open_url(kind: str, url: Any, **options: Any) -> SerialQrScanner:
    """``serial:///dev/ttyUSB0?baud=9600&suffix=0d&max=512``"""
    opts = url_options(url, options, "qr")
    query = opts.pop("query")
    return SerialQrScanner(**opts, max_length=int(query.get("max", DEFAULT_MAX_LENGTH)))

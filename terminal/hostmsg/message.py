"""One ISO 8583 message, its wire encoding (pyiso8583 default spec) and its MAC.

Fields are held as ``{DE number: value}``: ``str`` for character fields, ``bytes`` for
the binary ones (DE 52, 55, 64, 128). The MAC is added by :func:`pack` and checked by
:func:`verify_mac`, both per host-spec "Security": ISO 9797-1 MAC algorithm 3 with
padding method 1 over every encoded byte before the MAC field (MTI, bitmaps, fields),
the MAC being the LAST field — DE 64 when no field above 64 is present, otherwise DE 128 —
with its bitmap bit set before the MAC is computed.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import iso8583
from iso8583.decoder import DecodeError
from iso8583.encoder import EncodeError

from keys.mac import retail_mac
from terminal.errors import TerminalError
from terminal.hostmsg import de48
from terminal.hostmsg.spec import BINARY_FIELDS, SPEC

MAC_LENGTH = 8


class MessageError(TerminalError):
    """A message could not be encoded or decoded; names the field, never its value."""


@dataclass(frozen=True, slots=True)
class Message:
    mti: str
    fields: Mapping[int, str | bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    def __repr__(self) -> str:  # never values: DE 2/35/52 may be in there
        return f"Message({self.mti}, fields={sorted(self.fields)})"

    def get(self, number: int) -> str | bytes | None:
        return self.fields.get(number)

    def text(self, number: int) -> str | None:
        value = self.fields.get(number)
        if value is None:
            return None
        return value if isinstance(value, str) else value.hex().upper()

    def with_fields(self, **changes: str | bytes | None) -> Message:
        """Copy with ``de11="000123"``-style changes (None removes a field)."""
        fields = dict(self.fields)
        for name, value in changes.items():
            number = int(name.removeprefix("de"))
            if value is None:
                fields.pop(number, None)
            else:
                fields[number] = value
        return Message(self.mti, fields)

    def with_mti(self, mti: str) -> Message:
        return Message(mti, self.fields)

    def de48(self) -> list[tuple[str, str]]:
        value = self.text(48)
        return de48.decode(value) if value else []

    def de48_get(self, tag: str) -> str | None:
        value = self.text(48)
        return de48.get(value, tag) if value else None

    @property
    def mac_field(self) -> int:
        """DE 64, or DE 128 when any field above 64 is present (host-spec Security)."""
        return 128 if any(64 < n < 128 for n in self.fields) else 64


def mac_field_for(fields: Mapping[int, object]) -> int:
    return 128 if any(64 < n < 128 for n in fields) else 64


def _to_doc(message: Message) -> dict[str, str]:
    doc: dict[str, str] = {"t": message.mti}
    for number, value in message.fields.items():
        if number in (1, 65):
            raise MessageError(f"DE {number} is a bitmap, not a field to set")
        if number in BINARY_FIELDS:
            if not isinstance(value, bytes | bytearray):
                raise MessageError(f"DE {number} is binary: give bytes")
            doc[str(number)] = bytes(value).hex().upper()
        else:
            if not isinstance(value, str):
                raise MessageError(f"DE {number} is a character field: give str")
            doc[str(number)] = value
    return doc


def encode(message: Message) -> bytes:
    """Wire bytes of ``message`` as it is (no MAC added)."""
    try:
        raw, _ = iso8583.encode(_to_doc(message), SPEC)
    except EncodeError as error:
        raise MessageError(f"cannot encode: {_safe(error)}") from None
    return bytes(raw)


def decode(raw: bytes) -> Message:
    """A message from wire bytes (not MAC-checked: see :func:`verify_mac`)."""
    try:
        doc, _ = iso8583.decode(bytearray(raw), SPEC)
    except DecodeError as error:
        raise MessageError(f"cannot decode: {_safe(error)}") from None
    fields: dict[int, str | bytes] = {}
    for key, value in doc.items():
        if key in ("t", "p", "1", "h"):
            continue
        number = int(key)
        fields[number] = bytes.fromhex(value) if number in BINARY_FIELDS else value
    return Message(doc["t"], fields)


def _safe(error: Exception) -> str:
    """pyiso8583 errors name the field and the rule, but may quote data: keep the field."""
    text = str(error)
    field_name = getattr(error, "field", None)
    reason = text.split(":")[0]
    return f"{reason}: field {field_name}" if field_name else reason


def pack(message: Message, mac_key: bytes | None) -> bytes:
    """Encode ``message``, adding the MAC (last field) when ``mac_key`` is given."""
    if mac_key is None:
        return encode(message)
    number = message.mac_field
    if any(n > number for n in message.fields):
        raise MessageError(f"DE {number} (MAC) must be the last field")
    blank = Message(message.mti, {**message.fields, number: bytes(MAC_LENGTH)})
    raw = encode(blank)
    body = raw[:-MAC_LENGTH]
    return body + retail_mac(mac_key, body)


def verify_mac(raw: bytes, message: Message, mac_key: bytes) -> bool:
    """True when ``message`` (decoded from ``raw``) ends in the right MAC field and the
    MAC over every byte before it verifies under ``mac_key``."""
    number = message.mac_field
    mac = message.fields.get(number)
    if not isinstance(mac, bytes) or len(mac) != MAC_LENGTH:
        return False
    if max(message.fields) != number or raw[-MAC_LENGTH:] != mac:
        return False
    return hmac.compare_digest(retail_mac(mac_key, raw[:-MAC_LENGTH]), mac)

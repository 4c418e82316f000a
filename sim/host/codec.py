"""ISO 8583:1987 encoding, DE 48 sub-elements, MAC placement and 2-byte framing.

Everything here follows docs/shared host-spec.md; the field spec is pyiso8583 4.x
``iso8583.specs.default`` unchanged (it already declares DE 52, 55, 64 and 128 binary).
"""

from __future__ import annotations

import copy
import socket
from collections.abc import Callable, Mapping

import iso8583
from iso8583.specs import default as default_spec

from sim.host.errors import FieldError, FrameError

# host-spec "Encoding": exactly iso8583.specs.default; a private copy so nobody mutates it.
SPEC: dict = copy.deepcopy(default_spec)  # type: ignore[type-arg]

MAX_FRAME = 4096  # host-spec "Transport": longer frames are "no valid response"
MAC_LEN = 8

Fields = dict[str, str]


def mac_field(fields: Mapping[str, str]) -> str:
    """DE 64 when no field above 64 is present, otherwise DE 128 (host-spec "Security")."""
    above = any(k.isdigit() and 64 < int(k) < 128 for k in fields)
    return "128" if above else "64"


def encode(fields: Mapping[str, str]) -> bytes:
    """Encode a decoded dict (binary fields as hex) with the spec; bitmaps are derived."""
    doc = {k: v for k, v in fields.items() if k not in ("p", "1")}
    try:
        raw, _ = iso8583.encode(doc, SPEC)
    except iso8583.EncodeError as exc:
        raise FieldError(str(getattr(exc, "field", "?")), exc.msg) from None
    return bytes(raw)


def decode(raw: bytes) -> Fields:
    try:
        doc, _ = iso8583.decode(raw, SPEC)
    except iso8583.DecodeError as exc:
        raise FrameError(f"undecodable ISO 8583: {exc}") from None
    return doc


def encode_with_mac(fields: Mapping[str, str], mac: Callable[[bytes], bytes]) -> bytes:
    """Encode with the MAC as last field: bit set first, MAC over every byte before it."""
    doc = {k: v for k, v in fields.items() if k not in ("64", "128")}
    doc[mac_field(doc)] = "00" * MAC_LEN
    raw = encode(doc)
    body = raw[:-MAC_LEN]
    return body + mac(body)[:MAC_LEN]


def mac_parts(raw: bytes, fields: Mapping[str, str]) -> tuple[bytes, bytes] | None:
    """(MAC input, received MAC) when the right MAC field is the message's last field."""
    want = mac_field(fields)
    other = "64" if want == "128" else "128"
    if want not in fields or other in fields:
        return None
    return raw[:-MAC_LEN], raw[-MAC_LEN:]


# --- DE 48: repeated TT + 3-digit length + value (host-spec "Data elements used") ---


def parse_de48(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(value):
        head = value[pos : pos + 5]
        if len(head) < 5 or not head[2:].isdigit():
            raise FieldError("48", f"bad sub-element header at offset {pos}")
        size = int(head[2:])
        data = value[pos + 5 : pos + 5 + size]
        if len(data) != size:
            raise FieldError("48", f"sub-element {head[:2]!r} runs past the field")
        out[head[:2]] = data
        pos += 5 + size
    return out


def build_de48(elements: Mapping[str, str]) -> str:
    parts = []
    for tag, data in elements.items():
        if len(tag) != 2 or len(data) > 999:
            raise FieldError("48", f"sub-element {tag!r} cannot be encoded")
        parts.append(f"{tag}{len(data):03d}{data}")
    return "".join(parts)


# --- framing: 2-byte big-endian length (host-spec "Transport") ---


def frame(payload: bytes) -> bytes:
    if len(payload) > 0xFFFF:
        raise FrameError("payload longer than a 2-byte length allows")
    return len(payload).to_bytes(2, "big") + payload


def read_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise FrameError(f"short read: {size - remaining} of {size} bytes")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket) -> bytes | None:
    """One framed payload; None on a clean close before a frame starts."""
    first = sock.recv(2)
    if not first:
        return None
    if len(first) == 1:
        first += read_exact(sock, 1)
    size = int.from_bytes(first, "big")
    if size > MAX_FRAME:
        raise FrameError(f"frame length {size} exceeds {MAX_FRAME}")
    return read_exact(sock, size)

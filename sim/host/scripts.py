"""Issuer scripts: MACed commands in 71/72 templates (EMV 4.4 Book 3, 6.5; Book 2, 9.2).

Commands are named in the rules file or ordered by tests through ``host.scripts``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sim.host import emvauth
from sim.host.emvauth import IssuerKeys

_SCRIPT_HEADERS: dict[str, bytes] = {
    "application_block": bytes.fromhex("841E0000"),  # Book 3, 6.5.1 APPLICATION BLOCK
    "application_unblock": bytes.fromhex("84180000"),  # Book 3, 6.5.2 APPLICATION UNBLOCK
    "card_block": bytes.fromhex("84160000"),  # Book 3, 6.5.3 CARD BLOCK
    "pin_unblock": bytes.fromhex("84240000"),  # Book 3, 6.5.10 PIN CHANGE/UNBLOCK, P2=00
}


def script_command(
    keys: IssuerKeys,
    cvn: str,
    pan: str,
    psn: str,
    icc: Mapping[str, bytes],
    command: str,
    index: int = 0,
) -> bytes:
    """One MACed script command: ``application_block``, ``pin_change:1234``,
    ``put_data:9F4F:HEX`` ... (docs/sim-host.md lists them); ``index`` counts the
    commands already placed in this response."""
    card = emvauth.issuer_card(keys, cvn, pan, psn)
    arqc, atc = icc["9F26"], icc["9F36"]
    if cvn.startswith("mc"):
        # M/Chip SM session keys are diversified by the AC, counted up once per command.
        arqc = ((int.from_bytes(arqc, "big") + index) % (1 << 64)).to_bytes(8, "big")
    name, _, arg = command.partition(":")
    if name == "pin_change":
        return bytes(card.generate_pin_change_command(pin=arg, tag_9f26=arqc, tag_9f36=atc))
    if name == "put_data":
        tag, _, value = arg.partition(":")
        head = bytes.fromhex("04DA") + bytes.fromhex(tag.rjust(4, "0"))
        data = bytes.fromhex(value)
    elif name in _SCRIPT_HEADERS:
        head, data = _SCRIPT_HEADERS[name], b""
    else:
        raise ValueError(f"unknown issuer script command {name!r}")
    header = head + bytes([len(data) + 8])
    mac = bytes(
        card.generate_command_mac(
            command_header=header, tag_9f26=arqc, tag_9f36=atc, command_data=data
        )
    )
    return header + data + mac[:8]


def script_template(tag: int, script_id: int, commands: Sequence[bytes]) -> bytes:
    """71/72 template: 9F18 script identifier then one 86 per command (Book 3, Annex A)."""
    inner = emvauth.tlv(b"\x9f\x18", script_id.to_bytes(4, "big"))
    for cmd in commands:
        inner += emvauth.tlv(b"\x86", cmd)
    return emvauth.tlv(bytes([tag]), inner)


def check_command(command: str) -> None:
    """Raise ValueError unless ``command`` is one script_command can build."""
    name, _, arg = command.partition(":")
    if name in _SCRIPT_HEADERS:
        return
    if name == "pin_change" and arg.isdigit() and 4 <= len(arg) <= 12:
        return
    if name == "put_data":
        tag, _, value = arg.partition(":")
        try:
            if len(bytes.fromhex(tag)) in (1, 2) and len(bytes.fromhex(value)) <= 200:
                return
        except ValueError:
            pass
    raise ValueError(f"unknown or malformed issuer script command {name!r}")


@dataclass(frozen=True, slots=True)
class ScriptOrder:
    prefix: str
    commands: tuple[str, ...]
    tag: int


@dataclass
class ScriptQueue:
    """Issuer scripts to attach to the next chip request(s) for a PAN prefix (tests)."""

    _orders: deque[ScriptOrder] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next(
        self, commands: list[str] | tuple[str, ...], tag: int = 0x72, pan_prefix: str = ""
    ) -> None:
        for command in commands:
            check_command(command)
        with self._lock:
            self._orders.append(ScriptOrder(pan_prefix, tuple(commands), tag))

    def take(self, pan: str) -> ScriptOrder | None:
        with self._lock:
            for order in self._orders:
                if pan.startswith(order.prefix):
                    self._orders.remove(order)
                    return order
        return None

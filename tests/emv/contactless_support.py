"""Shared pieces for the contactless tests: configuration, callbacks, a transport
that rewrites one card answer (to turn sim answers into the cases we need)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from emv.callbacks import OnlineResponse, PinEntry, PinKind, PinRequest, PinStatus
from emv.contactless import Combination, ContactlessConfig
from emv.tlv import decode, encode, encode_primitive
from emv.transport import CardTransport
from tests.emv.scripted import APPROVED, RecordingCallbacks, txn
from tests.emv.sim_support import sim_config

VISA = bytes.fromhex("A0000000031010")
MASTERCARD = bytes.fromhex("A0000000041010")
ONLINE_BLOCK = bytes.fromhex("0123456789ABCDEF")
# TTQ with 'ODA for online authorisations supported' (byte 1 b1) added to the default
TTQ_ODA_ONLINE = bytes.fromhex("27004080")

__all__ = ["APPROVED", "txn"]


def cl_config(*, ttq: bytes | None = None, **limits: object) -> ContactlessConfig:
    """Visa (kernel 3) and Mastercard (kernel 2) with limits 100.00 / floor 0 / CVM 50.00."""
    params: dict[str, object] = {
        "transaction_limit": 10000,
        "floor_limit": 0,
        "cvm_required_limit": 5000,
    }
    params.update(limits)
    combos = (
        Combination(VISA, 3, **params),  # type: ignore[arg-type]
        Combination(MASTERCARD, 2, **params),  # type: ignore[arg-type]
    )
    base = ContactlessConfig(kernel=sim_config(), combinations=combos)
    return dataclasses.replace(base, ttq=ttq) if ttq else base


class ClCallbacks(RecordingCallbacks):
    """Online PIN gives a fixed enciphered block; everything asked is recorded."""

    def __init__(
        self, online: OnlineResponse | None = APPROVED, pin: PinStatus = PinStatus.ENTERED
    ):
        super().__init__(online)
        self.pin_status = pin
        self.removed = 0

    def enter_pin(self, request: PinRequest) -> PinEntry:
        self.pins.append(request)
        if request.kind is PinKind.ONLINE and self.pin_status is PinStatus.ENTERED:
            return PinEntry(PinStatus.ENTERED, online_block=ONLINE_BLOCK, ksn=bytes(10))
        return PinEntry(self.pin_status)

    def remove_card(self) -> None:
        self.removed += 1


Rewrite = Callable[[bytes, bytes], bytes]


class Rewriting:
    """A transport that passes commands to ``inner`` and lets ``rewrite(command,
    response)`` change each answer (INS-selected by the caller)."""

    def __init__(self, inner: CardTransport, rewrite: Rewrite) -> None:
        self.inner = inner
        self.rewrite = rewrite
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        return self.rewrite(apdu, self.inner.transmit(apdu))


def set_in_77(response: bytes, tag: int, value: bytes) -> bytes:
    """Replace (or add) one primitive inside a '77' response, SW kept."""
    data, sw = response[:-2], response[-2:]
    template = decode(data)[0]
    children = [child for child in template.children if child.tag != tag]
    body = b"".join(encode([child]) for child in children) + encode_primitive(tag, value)
    return encode_primitive(0x77, body) + sw


def on_gpo(change: Callable[[bytes], bytes]) -> Rewrite:
    def rewrite(command: bytes, response: bytes) -> bytes:
        if command[:2] == b"\x80\xa8" and response[-2:] == b"\x90\x00":
            return change(response)
        return response

    return rewrite

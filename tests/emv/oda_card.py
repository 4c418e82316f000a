"""Test-side card data for ODA and CVM steps: a context with a signed card."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from emv.bits import AIP
from emv.config import AidEntry, CaPublicKey, KernelConfig, TerminalData
from emv.context import TransactionContext, TransactionInput
from tests.emv import oda_chain as chain

PAN = bytes.fromhex("4761739001010010")
RID = bytes.fromhex("A000000003")
AID = RID + b"\x10\x10"
UN = bytes.fromhex("A1B2C3D4")
TODAY = dt.date(2026, 11, 25)
RECORD_VALUE = b"\x5a\x08" + PAN + b"\x5f\x24\x03\x30\x12\x31\x8f\x01\xf1"
AIP_BYTES = bytes.fromhex("7D00")  # SDA DDA CVM TRM IA CDA


def config(capabilities: str = "E0F8C8", **kw: object) -> KernelConfig:
    ca = chain.ca_key()
    keys = (CaPublicKey(RID, 0xF1, ca.modulus_bytes, b"\x03", dt.date(2030, 12, 31)),)
    return KernelConfig(
        terminal=TerminalData(capabilities=bytes.fromhex(capabilities)),
        aids=(AidEntry(AID),),
        ca_keys=keys,
        **kw,  # type: ignore[arg-type]
    )


def card_data(with_sda_tag_list: bool = True) -> dict[int, bytes]:
    """Signed ICC data: static data = record value (+ AIP when 9F4A lists it)."""
    return dict(_card_data(with_sda_tag_list))


@functools.cache
def _card_data(with_sda_tag_list: bool) -> dict[int, bytes]:
    static = RECORD_VALUE + (AIP_BYTES if with_sda_tag_list else b"")
    issuer_cert, issuer_rem = chain.issuer_certificate(
        chain.ca_key(), chain.issuer_key(), bytes.fromhex("476173FF")
    )
    icc_cert, icc_rem = chain.icc_certificate(chain.issuer_key(), chain.icc_key(), PAN, static)
    pin_cert, pin_rem = chain.icc_certificate(chain.issuer_key(), chain.pin_key(), PAN, None)
    data = {
        0x84: AID,
        0x5A: PAN,
        0x82: AIP_BYTES,
        0x8F: b"\xf1",
        0x90: issuer_cert,
        0x92: issuer_rem,
        0x9F32: b"\x03",
        0x93: chain.signed_static_data(chain.issuer_key(), static),
        0x9F46: icc_cert,
        0x9F47: b"\x01\x00\x01",
        0x9F48: icc_rem,
        0x9F49: bytes.fromhex("9F3704"),
        0x9F2D: pin_cert,
        0x9F2E: b"\x03",
    }
    if pin_rem:
        data[0x9F2F] = pin_rem
    if with_sda_tag_list:
        data[0x9F4A] = b"\x82"
    return data


def context(
    capabilities: str = "E0F8C8",
    aip: bytes = AIP_BYTES,
    card: dict[int, bytes] | None = None,
    **txn: object,
) -> TransactionContext:
    values: dict[str, object] = dict(
        amount=1000, date=TODAY, time=dt.time(12, 0), unpredictable_number=UN
    )
    values.update(txn)
    ctx = TransactionContext.new(config(capabilities), TransactionInput(**values))  # type: ignore[arg-type]
    ctx.aid_entry = ctx.config.aids[0]
    ctx.card.update(card_data() if card is None else card)
    ctx.aip = AIP.from_bytes(aip)
    ctx.oda_records += RECORD_VALUE
    return ctx


@dataclass
class ScriptedCard:
    """A card transport answering by instruction byte; records every command."""

    handlers: dict[int, Callable[[bytes], bytes]] = field(default_factory=dict)
    commands: list[bytes] = field(default_factory=list)

    def transmit(self, apdu: bytes) -> bytes:
        self.commands.append(apdu)
        handler = self.handlers.get(apdu[1])
        if handler is None:
            return b"\x6d\x00"
        return handler(apdu)


def dda_card(number: bytes = b"\x01\x02\x03\x04", **fields: object) -> ScriptedCard:
    def internal_authenticate(apdu: bytes) -> bytes:
        ddol_data = apdu[5 : 5 + apdu[4]]
        sdad = chain.signed_dynamic_data(chain.icc_key(), number, ddol_data, **fields)  # type: ignore[arg-type]
        return b"\x80\x81\x80" + sdad + b"\x90\x00"

    return ScriptedCard({0x88: internal_authenticate})

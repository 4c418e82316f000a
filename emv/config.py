"""The kernel's configuration: terminal data, AID table, CA keys, lists.

Everything here is fixed for the life of a terminal session; what changes per
transaction lives in :mod:`emv.context`. Values are kept as the bytes the card
and the host see (e.g. ``country_code=b"\\x08\\x26"``), so DOL building needs no
conversion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

# Terminal action code defaults when the AID entry holds none.
# EMV 4.4 Book 3, 10.7: absent TACs are treated as all zero bits.
ZERO_TAC = bytes(5)


@dataclass(frozen=True, slots=True)
class TerminalData:
    """Terminal-resident data objects (Book 3 Annex A, source "Terminal")."""

    country_code: bytes = b"\x08\x26"  # 9F1A
    currency_code: bytes = b"\x08\x26"  # 5F2A
    currency_exponent: int = 2  # 5F36
    terminal_type: int = 0x22  # 9F35
    capabilities: bytes = bytes.fromhex("E0F8C8")  # 9F33
    additional_capabilities: bytes = bytes.fromhex("6000F0A001")  # 9F40
    ifd_serial: bytes = b"00000001"  # 9F1E, an8
    merchant_name_location: bytes = b""  # 9F4E
    merchant_category_code: bytes = b"\x59\x99"  # 9F15
    terminal_id: bytes = b"TERM0001"  # 9F1C
    merchant_id: bytes = b"MERCHANT0000001"  # 9F16
    acquirer_id: bytes = b""  # 9F01
    attended: bool = True  # derived from 9F35 too; kept explicit for clarity

    def as_tags(self) -> dict[int, bytes]:
        """The terminal data as a tag dictionary for DOLs and DE 55."""
        tags = {
            0x9F1A: self.country_code,
            0x5F2A: self.currency_code,
            0x5F36: bytes((self.currency_exponent,)),
            0x9F35: bytes((self.terminal_type,)),
            0x9F33: self.capabilities,
            0x9F40: self.additional_capabilities,
            0x9F1E: self.ifd_serial,
            0x9F15: self.merchant_category_code,
            0x9F1C: self.terminal_id,
            0x9F16: self.merchant_id,
        }
        if self.merchant_name_location:
            tags[0x9F4E] = self.merchant_name_location
        if self.acquirer_id:
            tags[0x9F01] = self.acquirer_id
        return tags


@dataclass(frozen=True, slots=True)
class AidEntry:
    """One row of the terminal's AID table (Book 3, 12.4 and 10.6/10.7 data)."""

    aid: bytes
    label: str = ""
    partial_selection: bool = True  # Book 1, 12.3.1 "ASI": allow longer card AIDs
    application_version: bytes = b"\x00\x8c"  # 9F09
    tac_denial: bytes | None = None
    tac_online: bytes | None = None
    tac_default: bytes | None = None
    floor_limit: int = 0  # minor units; 9F1B
    random_threshold: int = 0  # minor units
    random_target_percent: int = 0  # 0..99
    random_max_target_percent: int = 0  # 0..99
    default_ddol: bytes = bytes.fromhex("9F3704")  # Book 2, 6.5.1 default DDOL
    default_tdol: bytes = b""
    # Whether this AID is "domestic only" is not a thing; scheme data may go here.
    extra_terminal_data: Mapping[int, bytes] = field(default_factory=dict)

    def matches(self, card_aid: bytes) -> bool:
        """Book 1, 12.3.1: exact match, or a longer card AID when partial selection is on."""
        if card_aid == self.aid:
            return True
        return self.partial_selection and card_aid.startswith(self.aid)


@dataclass(frozen=True, slots=True)
class CaPublicKey:
    """A certification authority public key (Book 2, 11.2)."""

    rid: bytes  # 5 bytes
    index: int  # 9F22 / 8F
    modulus: bytes
    exponent: bytes
    expiry: dt.date | None = None  # the key must not be used after this date
    hash_algorithm: int = 0x01  # SHA-1
    checksum: bytes = b""  # optional SHA-1 over RID||index||modulus||exponent


def parse_expiry(text: str) -> dt.date:
    """A CA key expiry as YYYYMMDD, YYMMDD (20YY) or ISO YYYY-MM-DD.

    Raises ValueError for anything else.
    """
    if len(text) == 6 and text.isdigit():
        text = "20" + text
    if len(text) == 8 and text.isdigit():
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return dt.date.fromisoformat(text)


def ca_keys_from_rows(rows: Iterable[Mapping[str, str]]) -> tuple[CaPublicKey, ...]:
    """CA public keys from rig-contract ``[[ca_keys]]`` rows (hex text fields).

    Raises ValueError or KeyError for a malformed row.
    """
    return tuple(
        CaPublicKey(
            rid=bytes.fromhex(row["rid"]),
            index=int(row["index"], 16),
            modulus=bytes.fromhex(row["modulus"]),
            exponent=bytes.fromhex(row["exponent"]),
            expiry=parse_expiry(row["expiry"]) if row.get("expiry") else None,
        )
        for row in rows
    )


@dataclass(frozen=True, slots=True)
class RevokedCertificate:
    """Book 2, 5.3 step 10 / 6.3: (RID, CA index, certificate serial number)."""

    rid: bytes
    ca_index: int
    serial: bytes  # 3 bytes


@dataclass(frozen=True, slots=True)
class KernelConfig:
    """Everything the kernel needs from the terminal besides the transaction input."""

    terminal: TerminalData = field(default_factory=TerminalData)
    aids: tuple[AidEntry, ...] = ()
    ca_keys: tuple[CaPublicKey, ...] = ()
    revoked: frozenset[RevokedCertificate] = frozenset()
    exception_file: frozenset[str] = frozenset()  # PANs as digit strings (Book 3, 10.6.1)
    # Alternative lookup (pan, psn) -> bool, e.g. against hashed entries so that the
    # terminal never holds the listed PANs in clear.
    exception_lookup: Callable[[str, str], bool] | None = None
    pin_bypass_allowed: bool = True
    fallback_allowed: bool = True  # magstripe fallback after chip failure
    pse_enabled: bool = True  # try 1PAY.SYS.DDF01 before the AID list
    support_cardholder_confirmation: bool = True
    default_floor_limit: int = 0
    # Book 3, 10.6 performs terminal risk management when the AIP asks for it; some
    # acquirers require it on every transaction regardless of the AIP.
    risk_management_regardless_of_aip: bool = False

    def aid_entry(self, card_aid: bytes) -> AidEntry | None:
        """The AID-table row a card AID is selected under (longest terminal AID wins)."""
        best: AidEntry | None = None
        for entry in self.aids:
            if entry.matches(card_aid) and (best is None or len(entry.aid) > len(best.aid)):
                best = entry
        return best

    def ca_key(self, rid: bytes, index: int) -> CaPublicKey | None:
        for key in self.ca_keys:
            if key.rid == rid and key.index == index:
                return key
        return None

    def is_revoked(self, rid: bytes, ca_index: int, serial: bytes) -> bool:
        return RevokedCertificate(rid, ca_index, serial) in self.revoked

    def in_exception_file(self, pan: str, psn: str = "") -> bool:
        if self.exception_lookup is not None and self.exception_lookup(pan, psn):
            return True
        return pan in self.exception_file

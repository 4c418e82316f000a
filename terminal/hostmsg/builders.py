"""Request builders, one per host-spec message, data-table driven from spec.py.

Builders return a :class:`Message` without DE 48 ``KS`` and without a MAC: the
:class:`~terminal.hostmsg.client.HostClient` adds both at send time from the DUKPT key
session (a repeat of a stored message gets a fresh KSN and MAC, nothing else changes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from terminal.hostmsg import de48
from terminal.hostmsg.de90 import OriginalData
from terminal.hostmsg.message import Message
from terminal.hostmsg.spec import NETWORK_CODES, POS_CONDITIONS, PROCESSING_CODES, REQUEST_MTI


@dataclass(frozen=True, slots=True)
class Acceptor:
    """Who sends: the merchant profile's TID/MID and the terminal's NII."""

    tid: str  # DE 41
    mid: str  # DE 42
    nii: str = "001"  # DE 24


def local_datetime(when: dt.datetime) -> tuple[str, str]:
    """(DE 12 hhmmss, DE 13 MMDD) of the terminal's local time."""
    return when.strftime("%H%M%S"), when.strftime("%m%d")


def datetime10(when: dt.datetime) -> str:
    """MMDDhhmmss as stored in the journal and used in DE 90."""
    return when.strftime("%m%d%H%M%S")


def amount12(amount: int) -> str:
    if not 0 <= amount <= 999_999_999_999:
        raise ValueError("amount out of range for DE 4")
    return f"{amount:012d}"


def _private(
    *,
    batch: int | None = None,
    operator: str | None = None,
    qr: str | None = None,
    voucher: str | None = None,
    loyalty: str | None = None,
) -> str | None:
    items: list[tuple[str, str]] = []
    for tag, value in (
        (de48.QR_CODE, qr),
        (de48.VOUCHER, voucher),
        (de48.LOYALTY, loyalty),
        (de48.OPERATOR, operator),
        (de48.BATCH, None if batch is None else f"{batch:06d}"),
    ):
        if value is not None:
            items.append((tag, value))
    return de48.encode(items) if items else None


def network_management(code: str, *, stan: str, acceptor: Acceptor, when: dt.datetime) -> Message:
    """0800 (DE 70: ``sign_on``, ``echo`` or ``key_change``, or the 3 digits)."""
    de12, de13 = local_datetime(when)
    return Message(
        "0800",
        {
            11: stan,
            12: de12,
            13: de13,
            24: acceptor.nii,
            41: acceptor.tid,
            42: acceptor.mid,
            70: NETWORK_CODES.get(code, code),
        },
    )


def financial_request(
    txn_type: str,
    *,
    stan: str,
    amount: int,
    currency: str,
    acceptor: Acceptor,
    when: dt.datetime,
    entry_mode: str,
    batch: int,
    pos_condition: str = "normal",
    pan: str | None = None,
    expiry: str | None = None,
    psn: str | None = None,
    track2: str | None = None,
    pin_block: bytes | None = None,
    icc: bytes | None = None,
    rrn: str | None = None,
    auth_code: str | None = None,
    operator: str | None = None,
    qr: str | None = None,
    voucher: str | None = None,
    loyalty: str | None = None,
    voids: str | None = None,
) -> Message:
    """0100 / 0200 / 0220 (completion) for ``txn_type`` in sale, refund, void, preauth,
    completion, balance, topup. A void names what it voids (``voids="sale"`` or
    ``"refund"``) and echoes the original's RRN and auth code; a completion echoes the
    pre-authorisation's RRN and auth code (host-spec DE 37 / 38)."""
    if txn_type == "void":
        if voids not in ("sale", "refund"):
            raise ValueError("a void must say voids='sale' or voids='refund'")
        processing = PROCESSING_CODES[f"void_{voids}"]
    else:
        processing = PROCESSING_CODES[txn_type]
    if txn_type == "preauth":
        pos_condition = "preauth"
    de12, de13 = local_datetime(when)
    fields: dict[int, str | bytes] = {
        3: processing,
        4: amount12(amount),
        11: stan,
        12: de12,
        13: de13,
        22: entry_mode,
        24: acceptor.nii,
        25: POS_CONDITIONS.get(pos_condition, pos_condition),
        41: acceptor.tid,
        42: acceptor.mid,
        49: currency[-3:],
    }
    optional: dict[int, str | bytes | None] = {
        2: pan,
        14: expiry,
        23: psn,
        35: track2,
        37: rrn,
        38: auth_code,
        48: _private(batch=batch, operator=operator, qr=qr, voucher=voucher, loyalty=loyalty),
        52: pin_block,
        55: icc,
    }
    fields.update({k: v for k, v in optional.items() if v is not None})
    return Message(REQUEST_MTI[txn_type], dict(sorted(fields.items())))


# Fields of the original request a reversal repeats (host-spec DE 37 "echoed in reversal").
_REVERSAL_KEEPS = (3, 4, 14, 22, 23, 24, 25, 41, 42, 48, 49, 55)


def reversal(
    *,
    original_mti: str,
    original_stan: str,
    original_datetime: str,
    original_fields: Mapping[int, str | bytes],
    response_fields: Mapping[int, str | bytes],
    stan: str,
    when: dt.datetime,
    pan: str | None,
    repeat: bool,
) -> Message:
    """0400 (0401 on every repeat) with a new STAN and the original in DE 90."""
    de12, de13 = local_datetime(when)
    fields: dict[int, str | bytes] = {
        k: original_fields[k] for k in _REVERSAL_KEEPS if k in original_fields
    }
    if 48 in fields and isinstance(fields[48], str):
        fields[48] = de48.replace(str(fields[48]), de48.KSN, None)
        if not fields[48]:
            del fields[48]
    for number in (37, 38):
        if number in response_fields:
            fields[number] = response_fields[number]
    fields.update({11: stan, 12: de12, 13: de13})
    if pan:
        fields[2] = pan
    fields[90] = OriginalData(original_mti, original_stan, original_datetime).encode()
    return Message("0401" if repeat else "0400", dict(sorted(fields.items())))


_UPLOAD_KEEPS = (3, 4, 14, 22, 23, 24, 25, 41, 42, 48, 49, 55)


def batch_upload(
    *,
    original_mti: str,
    original_stan: str,
    original_datetime: str,
    original_fields: Mapping[int, str | bytes],
    rrn: str | None,
    auth_code: str | None,
    stan: str,
    when: dt.datetime,
    pan: str | None,
) -> Message:
    """0320 for one transaction of the batch: its own new STAN, the original in DE 90,
    RRN and auth code echoed (host-spec DE 37 / 38); see docs/host-choices.md."""
    de12, de13 = local_datetime(when)
    fields: dict[int, str | bytes] = {
        k: original_fields[k] for k in _UPLOAD_KEEPS if k in original_fields
    }
    if 48 in fields and isinstance(fields[48], str):
        fields[48] = de48.replace(str(fields[48]), de48.KSN, None)
        if not fields[48]:
            del fields[48]
    fields.update({11: stan, 12: de12, 13: de13})
    if rrn:
        fields[37] = rrn
    if auth_code:
        fields[38] = auth_code
    if pan:
        fields[2] = pan
    fields[90] = OriginalData(original_mti, original_stan, original_datetime).encode()
    return Message("0320", dict(sorted(fields.items())))


def reconciliation(
    *,
    stan: str,
    acceptor: Acceptor,
    when: dt.datetime,
    batch: int,
    currency: str,
    debit_count: int,
    debit_amount: int,
    credit_count: int,
    credit_amount: int,
    after_upload: bool,
    operator: str | None = None,
) -> Message:
    """0500 with DE 74/76 counts and 86/88 amounts (host-spec rule 3)."""
    de12, de13 = local_datetime(when)
    code = PROCESSING_CODES["settlement_after_upload" if after_upload else "settlement"]
    private = _private(batch=batch, operator=operator)
    fields: dict[int, str | bytes] = {
        3: code,
        11: stan,
        12: de12,
        13: de13,
        24: acceptor.nii,
        41: acceptor.tid,
        42: acceptor.mid,
        49: currency[-3:],
        74: f"{credit_count:010d}",
        76: f"{debit_count:010d}",
        86: f"{credit_amount:016d}",
        88: f"{debit_amount:016d}",
    }
    if private:
        fields[48] = private
    return Message("0500", dict(sorted(fields.items())))

"""fast Dynamic Data Authentication (EMV Contactless Book C-3, Annex C; Book 2 6.5.2).

The card signs the reader's unpredictable number, amount, currency and its Card
Authentication Related Data (9F69) in the GPO response; the check reuses the
contact kernel's key recovery (:func:`emv.oda.icc_key`) and the Book 2 dynamic
signature check (:func:`emv.oda.verify_dda`).
"""

from __future__ import annotations

import enum

from emv.bits import TSI, TVR
from emv.context import OdaMethod, TransactionContext
from emv.oda import icc_key, verify_dda
from emv.oda.results import OdaFailure


class FddaResult(enum.Enum):
    OK = "ok"
    NOT_PERFORMED = "not performed"  # no signature offered, or the card does not do DDA
    FAILED = "failed"


FDDA_VERSION_00 = 0x00
FDDA_VERSION_01 = 0x01


# Book C-3, Annex C.2: the terminal dynamic data the SDAD hashes, by fDDA version
def terminal_dynamic_data(ctx: TransactionContext, auth_data: bytes) -> bytes | None:
    if not auth_data:
        return None
    version = auth_data[0]
    un = ctx.get(0x9F37) or b""
    if version == FDDA_VERSION_00:
        return un
    if version == FDDA_VERSION_01:
        amount = ctx.get(0x9F02) or b""
        currency = ctx.get(0x5F2A) or b""
        return un + amount + currency + auth_data
    return None


# Book C-3, Annex C.2: 9F69 = version (1) || card UN (4) || CTQ (2) [|| RFU]
def _ctq_copy_matches(ctx: TransactionContext, auth_data: bytes) -> bool:
    ctq = ctx.card.get(0x9F6C)
    if auth_data[:1] != bytes((FDDA_VERSION_01,)) or ctq is None:
        return True
    return len(auth_data) >= 7 and auth_data[5:7] == ctq


def verify_fdda(ctx: TransactionContext) -> FddaResult:
    """Check the GPO's 9F4B; sets TSI/TVR the way the contact kernel reads them."""
    sdad = ctx.card.get(0x9F4B)
    if not sdad:
        ctx.tvr |= TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED
        return FddaResult.NOT_PERFORMED
    ctx.oda_method = OdaMethod.DDA
    ctx.tsi |= TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED
    failure = _check(ctx, sdad)
    if failure is not None:
        ctx.tvr |= TVR.DDA_FAILED
        if failure is OdaFailure.ICC_DATA_MISSING:
            ctx.tvr |= TVR.ICC_DATA_MISSING
        return FddaResult.FAILED
    return FddaResult.OK


def _check(ctx: TransactionContext, sdad: bytes) -> OdaFailure | None:
    auth_data = ctx.card.get(0x9F69, b"")
    data = terminal_dynamic_data(ctx, auth_data)
    if data is None:
        return OdaFailure.DYNAMIC_NUMBER
    if not _ctq_copy_matches(ctx, auth_data):
        return OdaFailure.HASH_MISMATCH
    key = icc_key(ctx)
    if key.key is None:
        return key.failure or OdaFailure.KEY_NOT_RECOVERED
    result = verify_dda(sdad, key.key, data)
    if result.ok:
        ctx.card[0x9F4C] = result.icc_dynamic_number
    return result.failure

"""Terminal risk management (EMV 4.4 Book 3, 10.6).

Floor limit, random transaction selection, velocity checking and the exception
file. The random draw for selection is ``ctx.txn.random_selection`` (1..99),
supplied by the caller: the kernel has no random source of its own.
"""

from __future__ import annotations

from emv import apdu
from emv.bits import AIP, TSI, TVR
from emv.callbacks import KernelCallbacks
from emv.context import TransactionContext
from emv.outcome import Outcome
from emv.transport import CardTransport

TAG_ATC = 0x9F36
TAG_LAST_ONLINE_ATC = 0x9F13
TAG_LCOL = 0x9F14
TAG_UCOL = 0x9F23


def terminal_risk_management(
    ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks
) -> Outcome | None:
    """# EMV 4.4 Book 3, 10.6 Terminal Risk Management (when AIP asks for it)."""
    ctx.step = "risk"
    if ctx.txn.force_online:
        ctx.tvr |= TVR.MERCHANT_FORCED_ONLINE
    check_exception_file(ctx)
    asked = AIP.TERMINAL_RISK_MANAGEMENT_TO_BE_PERFORMED in ctx.aip
    if not asked and not ctx.config.risk_management_regardless_of_aip:
        return None
    floor_limit = _floor_limit(ctx)
    logged = callbacks.split_sales_amount(ctx.pan_masked) if ctx.card.get(0x5A) else 0
    check_floor_limit(ctx, floor_limit, logged)
    random_selection(ctx, floor_limit)
    velocity_checking(ctx, transport)
    ctx.tsi |= TSI.TERMINAL_RISK_MANAGEMENT_PERFORMED
    return None


def _floor_limit(ctx: TransactionContext) -> int:
    if ctx.aid_entry is not None:
        return ctx.aid_entry.floor_limit
    return ctx.config.default_floor_limit


def check_exception_file(ctx: TransactionContext) -> None:
    # EMV 4.4 Book 4, 6.3.5 / Book 3, 10.6: PAN on the terminal exception file
    psn_raw = ctx.card.get(0x5F34, b"")
    psn = psn_raw.hex() if psn_raw else ""
    if ctx.pan and ctx.config.in_exception_file(ctx.pan, psn):
        ctx.tvr |= TVR.CARD_ON_TERMINAL_EXCEPTION_FILE


def check_floor_limit(ctx: TransactionContext, floor_limit: int, logged: int) -> None:
    # EMV 4.4 Book 3, 10.6.1 Floor Limits: amount plus split sales at or over the limit
    if ctx.txn.amount + logged >= floor_limit:
        ctx.tvr |= TVR.FLOOR_LIMIT_EXCEEDED


def selection_target_percent(
    amount: int, floor_limit: int, threshold: int, target: int, max_target: int
) -> int | None:
    """# EMV 4.4 Book 3, 10.6.2: the target percentage for ``amount``, or None when
    random selection does not apply (amount at or over the floor limit)."""
    if amount >= floor_limit:
        return None
    if amount < threshold:
        return target
    span = floor_limit - threshold
    if span <= 0:
        return max_target
    # Interpolated: target at the threshold rising linearly to max target at the floor limit.
    return target + (max_target - target) * (amount - threshold) // span


def random_selection(ctx: TransactionContext, floor_limit: int) -> None:
    # EMV 4.4 Book 3, 10.6.2 Random Transaction Selection
    entry = ctx.aid_entry
    if entry is None:
        return
    target = selection_target_percent(
        ctx.txn.amount,
        floor_limit,
        entry.random_threshold,
        entry.random_target_percent,
        entry.random_max_target_percent,
    )
    if target is not None and ctx.txn.random_selection <= target:
        ctx.tvr |= TVR.SELECTED_RANDOMLY_FOR_ONLINE


def _get_counter(ctx: TransactionContext, transport: CardTransport, tag: int) -> int | None:
    response = apdu.exchange(ctx, transport, apdu.get_data(tag))
    if not response.ok:
        return None
    # Book 3, 6.5.7: the response is the data object itself (tag, length, 2 bytes).
    data = response.data
    expected = tag.to_bytes(2, "big") + b"\x02"
    if len(data) != 5 or data[:3] != expected:
        return None
    ctx.card[tag] = data[3:]
    return int.from_bytes(data[3:], "big")


def velocity_checking(ctx: TransactionContext, transport: CardTransport) -> None:
    # EMV 4.4 Book 3, 10.6.3 Velocity Checking (only when the card holds LCOL and UCOL)
    lcol_raw = ctx.card.get(TAG_LCOL)
    ucol_raw = ctx.card.get(TAG_UCOL)
    if not lcol_raw or not ucol_raw:
        return
    lcol = int.from_bytes(lcol_raw, "big")
    ucol = int.from_bytes(ucol_raw, "big")
    atc = _get_counter(ctx, transport, TAG_ATC)
    last_online = _get_counter(ctx, transport, TAG_LAST_ONLINE_ATC)
    if atc is None or last_online is None or atc <= last_online:
        # Both limits count as exceeded when the counters are missing or inconsistent.
        ctx.tvr |= TVR.LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED
        ctx.tvr |= TVR.UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED
        if last_online == 0:
            ctx.tvr |= TVR.NEW_CARD
        return
    if atc - last_online > lcol:
        ctx.tvr |= TVR.LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED
    if atc - last_online > ucol:
        ctx.tvr |= TVR.UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED
    if last_online == 0:
        ctx.tvr |= TVR.NEW_CARD

"""Processing restrictions (EMV 4.4 Book 3, 10.4): may this card do this here, today?

Only TVR bits are set; the decision is left to terminal action analysis.
"""

from __future__ import annotations

import datetime as dt

from emv.bits import AUC, TVR, AdditionalTerminalCapabilities
from emv.callbacks import KernelCallbacks
from emv.context import TransactionContext, TransactionType
from emv.outcome import Outcome
from emv.transport import CardTransport

ATM_TERMINAL_TYPES = frozenset({0x14, 0x15, 0x16})  # Book 4, Annex A1: unattended, financial


def parse_yymmdd(raw: bytes) -> dt.date | None:
    """# EMV 4.4 Book 4, 6.7.3: YY 00-49 is 20YY, 50-99 is 19YY. None when not a date."""
    if len(raw) != 3:
        return None
    text = raw.hex()
    if not text.isdigit():
        return None
    year = int(text[0:2])
    year += 2000 if year < 50 else 1900
    try:
        return dt.date(year, int(text[2:4]), int(text[4:6]))
    except ValueError:
        return None


def processing_restrictions(
    ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks
) -> Outcome | None:
    """# EMV 4.4 Book 3, 10.4 Processing Restrictions."""
    ctx.step = "restrictions"
    check_application_version(ctx)
    check_usage_control(ctx)
    check_dates(ctx)
    return None


def check_application_version(ctx: TransactionContext) -> None:
    # EMV 4.4 Book 3, 10.4.1 Application Version Number (card 9F08 vs terminal 9F09)
    card_version = ctx.card.get(0x9F08)
    terminal_version = ctx.terminal.get(0x9F09)
    if card_version is not None and terminal_version not in (None, card_version):
        ctx.tvr |= TVR.DIFFERENT_APPLICATION_VERSIONS


def is_atm(ctx: TransactionContext) -> bool:
    """Book 4, Annex A1 note: an ATM is terminal type 14/15/16 offering cash."""
    capabilities = AdditionalTerminalCapabilities.from_bytes(
        ctx.config.terminal.additional_capabilities
    )
    return (
        ctx.config.terminal.terminal_type in ATM_TERMINAL_TYPES
        and AdditionalTerminalCapabilities.CASH in capabilities
    )


def check_usage_control(ctx: TransactionContext) -> None:
    # EMV 4.4 Book 3, 10.4.2 Application Usage Control
    raw = ctx.card.get(0x9F07)
    if raw is None or len(raw) != 2:
        return
    auc = AUC.from_bytes(raw)
    where = AUC.VALID_AT_ATMS if is_atm(ctx) else AUC.VALID_AT_NON_ATM_TERMINALS
    allowed = where in auc
    issuer_country = ctx.card.get(0x5F28)
    if allowed and issuer_country is not None:
        domestic = issuer_country == ctx.config.terminal.country_code
        allowed = _transaction_allowed(ctx, auc, domestic)
    if not allowed:
        ctx.tvr |= TVR.SERVICE_NOT_ALLOWED


def _transaction_allowed(ctx: TransactionContext, auc: AUC, domestic: bool) -> bool:
    txn = ctx.txn
    cash = txn.cash or txn.transaction_type == TransactionType.CASH
    if cash:
        need = AUC.DOMESTIC_CASH if domestic else AUC.INTERNATIONAL_CASH
        if need not in auc:
            return False
    elif txn.transaction_type in (TransactionType.PURCHASE, TransactionType.PURCHASE_WITH_CASHBACK):
        # The kernel cannot tell goods from services: either bit allows a purchase.
        need = (
            AUC.DOMESTIC_GOODS | AUC.DOMESTIC_SERVICES
            if domestic
            else AUC.INTERNATIONAL_GOODS | AUC.INTERNATIONAL_SERVICES
        )
        if not auc & need:
            return False
    if txn.amount_other > 0 or txn.transaction_type == TransactionType.PURCHASE_WITH_CASHBACK:
        need = AUC.DOMESTIC_CASHBACK if domestic else AUC.INTERNATIONAL_CASHBACK
        if need not in auc:
            return False
    return True


def check_dates(ctx: TransactionContext) -> None:
    # EMV 4.4 Book 3, 10.4.3 Application Effective/Expiration Dates Checking
    today = ctx.txn.date
    effective_raw = ctx.card.get(0x5F25)
    if effective_raw is not None:
        effective = parse_yymmdd(effective_raw)
        if effective is None or today < effective:
            ctx.tvr |= TVR.APPLICATION_NOT_YET_EFFECTIVE
    expiry_raw = ctx.card.get(0x5F24)
    if expiry_raw is not None:
        expiry = parse_yymmdd(expiry_raw)
        if expiry is None or today > expiry:
            ctx.tvr |= TVR.EXPIRED_APPLICATION

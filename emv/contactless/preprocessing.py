"""Entry Point pre-processing (EMV Contactless Book B, 3.1): per combination, the
limits and flags that decide whether it may run and which TTQ it sends."""

from __future__ import annotations

from collections.abc import Sequence

from emv.bits import TTQ
from emv.contactless.activation import Preprocessed
from emv.contactless.config import Combination


def pre_process(
    combinations: Sequence[Combination], base_ttq: bytes, amount: int, currency_exponent: int
) -> list[Preprocessed]:
    """# Book B, 3.1.1 Pre-Processing, one :class:`Preprocessed` per combination."""
    return [_one(item, base_ttq, amount, currency_exponent) for item in combinations]


def _one(combination: Combination, base_ttq: bytes, amount: int, exponent: int) -> Preprocessed:
    # 3.1.1.1-3.1.1.2: indicators reset; the TTQ copy starts from the configured value
    # with 'Online cryptogram required' and 'CVM required' cleared
    ttq = TTQ.from_bytes(combination.ttq or base_ttq)
    ttq &= ~(TTQ.ONLINE_CRYPTOGRAM_REQUIRED | TTQ.CVM_REQUIRED)
    status_check = zero = not_allowed = floor = cvm = False
    # 3.1.1.3: status check - an amount of one unit of the currency asks for online
    if combination.status_check and amount == 10**exponent:
        status_check = True
    # 3.1.1.4: zero amount - online cryptogram when allowed (or an offline-only reader
    # cannot do it), otherwise contactless is not allowed for this combination
    if amount == 0:
        zero = True
        if combination.zero_amount_allowed and TTQ.OFFLINE_ONLY_READER not in ttq:
            ttq |= TTQ.ONLINE_CRYPTOGRAM_REQUIRED
        else:
            not_allowed = True
    # 3.1.1.5: at or over the Reader Contactless Transaction Limit - not allowed
    limit = combination.transaction_limit
    if limit is not None and amount >= limit:
        not_allowed = True
    # 3.1.1.6: over the Reader Contactless Floor Limit
    if combination.floor_limit is not None and amount > combination.floor_limit:
        floor = True
    # 3.1.1.7: at or over the Reader CVM Required Limit
    if combination.cvm_required_limit is not None and amount >= combination.cvm_required_limit:
        cvm = True
    # 3.1.1.8-3.1.1.9: the TTQ bits follow the indicators
    if floor or status_check:
        ttq |= TTQ.ONLINE_CRYPTOGRAM_REQUIRED
    if cvm:
        ttq |= TTQ.CVM_REQUIRED
    return Preprocessed(
        combination=combination,
        ttq=ttq.to_bytes(),
        not_allowed=not_allowed,
        status_check_requested=status_check,
        zero_amount=zero,
        floor_limit_exceeded=floor,
        cvm_required_limit_exceeded=cvm,
    )

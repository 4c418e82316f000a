"""Merchant profiles: several on one terminal, each with its own batch and totals.

The profile is chosen by name at the start of a transaction or defaults to the first in
the configuration. Batch numbers and totals are kept per profile (keyed by TID + MID in
the journal, so renaming a profile keeps its batch); the STAN is one counter per device
(host-spec: unique per terminal), which keeps it unique even when two profiles share a TID.
"""

from __future__ import annotations

from dataclasses import dataclass

from terminal.config import Config, Merchant
from terminal.errors import UsageError
from terminal.journal import Journal, Totals


@dataclass(frozen=True, slots=True)
class MerchantState:
    merchant: Merchant
    batch: int
    totals: Totals


def choose(config: Config, name: str | None) -> Merchant:
    """The profile called ``name`` (None: the first, the default)."""
    if name is None:
        return config.merchants[0]
    for merchant in config.merchants:
        if merchant.name == name:
            return merchant
    names = ", ".join(repr(m.name) for m in config.merchants)
    raise UsageError(f"no merchant profile named {name!r} (configured: {names})")


def state(journal: Journal, merchant: Merchant) -> MerchantState:
    totals, _ = journal.batch_totals(merchant.tid, merchant.mid)
    return MerchantState(merchant, journal.current_batch(merchant.tid, merchant.mid), totals)


def by_tid(config: Config, tid: str, mid: str) -> Merchant | None:
    for merchant in config.merchants:
        if merchant.tid == tid and merchant.mid == mid:
            return merchant
    return None

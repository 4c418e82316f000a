"""Reports for the operator and the register: X report, history search, reprint.

One place builds the answers so ``posterm report|history|reprint`` and the ECR requests
``x_report``, ``history`` and ``reprint`` print the same objects. Everything here reads
the journal only (masked PANs; receipts are stored rendered and masked) and needs no
data key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from terminal.config import Config
from terminal.errors import UsageError
from terminal.journal import Journal, Transaction
from terminal.settlement import x_report

DUPLICATE = "*** DUPLICATE ***"


def report_object(config: Config, journal: Journal, merchant: str | None = None) -> dict[str, Any]:
    """X report: running totals of each open batch, overall and per card scheme."""
    if merchant is not None:
        config.merchant(merchant)  # an unknown profile is a usage error
    reports = [r for r in x_report(config, journal) if merchant is None or r.merchant == merchant]
    return {"report": "x", "merchants": [r.as_dict() for r in reports]}


def report_text(report: dict[str, Any]) -> str:
    lines = ["X REPORT (batch still open)"]
    for m in report["merchants"]:
        t = m["totals"]
        lines.append(f"{m['merchant']}  TID {m['tid']}  BATCH {m['batch']:06d}")
        lines.append(f"  DEBITS  {t['debit_count']:>4}  {t['debit_amount']:>12}")
        lines.append(f"  CREDITS {t['credit_count']:>4}  {t['credit_amount']:>12}")
        for scheme, s in sorted(m["per_scheme"].items()):
            lines.append(
                f"  {scheme:<10} DR {s['debit_count']} {s['debit_amount']}"
                f"  CR {s['credit_count']} {s['credit_amount']}"
            )
        lines.append(
            f"  pending {m['pending']}  reversals queued {m['reversals_queued']}"
            f"  advices queued {m['advices_queued']}"
        )
    return "\n".join(lines)


def parse_since(value: str | float | int | None) -> float | None:
    """``--since``: epoch seconds, or an ISO 8601 date / date-time (local time)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise UsageError("since must be a date, a date-time or epoch seconds")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise UsageError("since must be YYYY-MM-DD[THH:MM[:SS]] or epoch seconds") from None


def history(
    journal: Journal,
    *,
    merchant: str | None = None,
    since: str | float | None = None,
    pan_last4: str | None = None,
    stan: str | None = None,
    rrn: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Transaction history search, newest first, as masked rows (`posterm journal`)."""
    if pan_last4 is not None and (len(pan_last4) != 4 or not pan_last4.isdigit()):
        raise UsageError("pan_last4 must be 4 digits")
    if stan is not None and (not stan.isdigit() or len(stan) > 6):
        raise UsageError("stan must be up to 6 digits")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000:
        raise UsageError("limit must be 1..10000")
    found = journal.search(
        merchant=merchant,
        since=parse_since(since),
        pan_last4=pan_last4,
        stan=None if stan is None else f"{int(stan):06d}",
        rrn=rrn,
        limit=limit,
    )
    return [t.masked() for t in found]


def history_text(rows: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{r['id']:>6} {r['type']:<10} {r['amount']:>12} {r['stan']} {r['rrn'] or '-':<12} "
        f"{r['status']:<9} {r['merchant']} #{r['batch']} {r['pan'] or ''}"
        for r in rows
    )


def reprint(
    journal: Journal, *, stan: str | None = None, merchant: str | None = None
) -> dict[str, Any]:
    """The stored receipts of the last transaction (or the one with ``stan``), marked
    as a duplicate. UsageError when there is none or it kept no receipt."""
    txn: Transaction | None
    if stan is not None:
        if not stan.isdigit() or len(stan) > 6:
            raise UsageError("stan must be up to 6 digits")
        found = journal.search(stan=f"{int(stan):06d}", merchant=merchant, limit=1)
        txn = found[0] if found else None
    else:
        recent = journal.search(merchant=merchant, limit=50)
        txn = next((t for t in recent if "receipt_customer" in t.extra), None)
    if txn is None:
        raise UsageError("no such transaction" if stan else "no receipt to reprint")
    customer = txn.extra.get("receipt_customer")
    if not isinstance(customer, str):
        raise UsageError(f"transaction {txn.stan} kept no receipt")
    merchant_copy = txn.extra.get("receipt_merchant")
    return {
        "stan": txn.stan,
        "type": txn.type.value,
        "status": txn.status.public,
        "receipt": f"{DUPLICATE}\n{customer}",
        "merchant_receipt": f"{DUPLICATE}\n{merchant_copy}" if merchant_copy else None,
    }

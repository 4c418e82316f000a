"""Merchant and customer receipts, rendered as styled lines for a printer or as text.

What a receipt must show for a chip transaction (the card schemes' receipt rules and
EMV Book 4 §11.4): masked PAN, entry mode, AID, application label, TVR, TSI, cryptogram,
the cardholder verification outcome, authorisation code, RRN, STAN and batch; a declined
receipt says why. The PAN is masked before it reaches this module, and the renderer
masks again defensively so a full PAN can never be printed.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from terminal.errors import TerminalError

DEFAULT_WIDTH = 32

# ISO 4217 numeric -> (alphabetic code, exponent) for the currencies a receipt names.
CURRENCIES: dict[str, tuple[str, int]] = {
    "0036": ("AUD", 2),
    "0124": ("CAD", 2),
    "0156": ("CNY", 2),
    "0208": ("DKK", 2),
    "0344": ("HKD", 2),
    "0356": ("INR", 2),
    "0392": ("JPY", 0),
    "0410": ("KRW", 0),
    "0554": ("NZD", 2),
    "0578": ("NOK", 2),
    "0702": ("SGD", 2),
    "0710": ("ZAR", 2),
    "0752": ("SEK", 2),
    "0756": ("CHF", 2),
    "0826": ("GBP", 2),
    "0840": ("USD", 2),
    "0949": ("TRY", 2),
    "0978": ("EUR", 2),
    "0985": ("PLN", 2),
}


class Copy(enum.Enum):
    MERCHANT = "MERCHANT COPY"
    CUSTOMER = "CUSTOMER COPY"


class CvmOutcome(enum.Enum):
    PIN_VERIFIED = "PIN VERIFIED"
    SIGNATURE = "SIGNATURE"
    PIN_AND_SIGNATURE = "PIN VERIFIED + SIGNATURE"
    NO_CVM = "NO CVM REQUIRED"
    DEVICE_VERIFIED = "VERIFIED ON DEVICE"
    NONE = ""


class Align(enum.Enum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    align: Align = Align.LEFT
    bold: bool = False
    double: bool = False


@dataclass(frozen=True, slots=True)
class ReceiptData:
    """Everything a receipt shows; built by the flow from the journal record."""

    merchant_name: str
    header_lines: tuple[str, ...]
    tid: str
    mid: str
    transaction_type: str  # "SALE", "REFUND", ...
    amount_minor: int
    currency_code: str  # ISO 4217 numeric, 4 digits as in 5F2A
    timestamp: str  # "2026-11-25 08:01:02"
    approved: bool
    masked_pan: str | None = None
    entry_mode: str | None = None  # "CHIP", "CONTACTLESS", "SWIPE", "KEYED", "QR"
    aid: str | None = None
    application_label: str | None = None
    tvr: str | None = None
    tsi: str | None = None
    cryptogram_type: str | None = None
    cryptogram: str | None = None
    cvm: CvmOutcome = CvmOutcome.NONE
    auth_code: str | None = None
    rrn: str | None = None
    stan: str | None = None
    batch: str | None = None
    response_code: str | None = None
    decline_reason: str | None = None
    balance_minor: int | None = None
    extra_lines: tuple[str, ...] = field(default_factory=tuple)


class ReceiptError(TerminalError):
    pass


def format_amount(amount_minor: int, currency_code: str) -> str:
    alpha, exponent = CURRENCIES.get(currency_code.zfill(4), (currency_code, 2))
    sign = "-" if amount_minor < 0 else ""
    units, minor = divmod(abs(amount_minor), 10**exponent)
    text = f"{units:,}" if exponent == 0 else f"{units:,}.{minor:0{exponent}d}"
    return f"{alpha} {sign}{text}"


_LONG_DIGITS = re.compile(r"\d{13,19}")


def mask_pan(text: str) -> str:
    """First 6 / last 4 of any 13-19 digit run; receipts never show more."""
    return _LONG_DIGITS.sub(
        lambda m: m.group()[:6] + "*" * (len(m.group()) - 10) + m.group()[-4:], text
    )


def _pair(label: str, value: str, width: int) -> Line:
    gap = max(1, width - len(label) - len(value))
    return Line(f"{label}{' ' * gap}{value}")


def render(data: ReceiptData, copy: Copy, width: int = DEFAULT_WIDTH) -> list[Line]:
    # Free-text fields are masked defensively; hex fields (AID, cryptogram) are not text.
    lines: list[Line] = [Line(mask_pan(data.merchant_name), Align.CENTER, bold=True)]
    lines += [Line(mask_pan(text), Align.CENTER) for text in data.header_lines]
    lines += [_pair("TID", data.tid, width), _pair("MID", data.mid, width)]
    lines.append(Line(data.timestamp))
    lines.append(Line(""))
    lines.append(Line(data.transaction_type, Align.CENTER, bold=True, double=True))
    if data.masked_pan:
        lines.append(Line(mask_pan(data.masked_pan)))  # defensive: masked again
    if data.application_label:
        lines.append(Line(mask_pan(data.application_label)))
    if data.entry_mode:
        lines.append(_pair("ENTRY", data.entry_mode, width))
    if data.aid:
        lines.append(_pair("AID", data.aid, width))
    for label, value in (("TVR", data.tvr), ("TSI", data.tsi)):
        if value:
            lines.append(_pair(label, value, width))
    if data.cryptogram_type and data.cryptogram:
        lines.append(_pair(data.cryptogram_type, data.cryptogram, width))
    lines.append(Line(""))
    lines.append(_pair("AMOUNT", format_amount(data.amount_minor, data.currency_code), width))
    if data.balance_minor is not None:
        lines.append(_pair("BALANCE", format_amount(data.balance_minor, data.currency_code), width))
    lines.append(Line(""))
    if data.approved:
        lines.append(Line("APPROVED", Align.CENTER, bold=True, double=True))
        if data.auth_code:
            lines.append(_pair("AUTH CODE", data.auth_code, width))
    else:
        lines.append(Line("DECLINED", Align.CENTER, bold=True, double=True))
        if data.decline_reason:
            lines.append(Line(mask_pan(data.decline_reason), Align.CENTER))
    if data.response_code:
        lines.append(_pair("RESPONSE", data.response_code, width))
    for label, value in (("RRN", data.rrn), ("STAN", data.stan), ("BATCH", data.batch)):
        if value:
            lines.append(_pair(label, value, width))
    if data.approved and data.cvm is not CvmOutcome.NONE:
        lines.append(Line(""))
        lines.append(Line(data.cvm.value, Align.CENTER, bold=True))
        needs_signature = data.cvm in (CvmOutcome.SIGNATURE, CvmOutcome.PIN_AND_SIGNATURE)
        if needs_signature and copy is Copy.MERCHANT:
            lines += [
                Line(""),
                Line(""),
                Line("X" + "_" * (width - 1)),
                Line("CARDHOLDER SIGNATURE"),
            ]
    lines += [Line(mask_pan(text), Align.CENTER) for text in data.extra_lines]
    lines += [Line(""), Line(copy.value, Align.CENTER)]
    return lines


def to_text(lines: list[Line], width: int = DEFAULT_WIDTH) -> str:
    out = []
    for line in lines:
        text = line.text[:width]
        if line.align is Align.CENTER:
            text = text.center(width).rstrip()
        elif line.align is Align.RIGHT:
            text = text.rjust(width)
        out.append(text)
    return "\n".join(out) + "\n"


def render_text(data: ReceiptData, copy: Copy, width: int = DEFAULT_WIDTH) -> str:
    return to_text(render(data, copy, width), width)

"""Approval rules from a TOML file (format: docs/sim-host.md, example: rules-example.toml).

Rules are data: which cards exist, their PIN, limits and prepaid balances, vouchers, QR
codes, issuer master keys per BIN, and faults to arm at start.
"""

from __future__ import annotations

import datetime as _dt
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.host.emvauth import CVN_CLASSES, IssuerKeys
from sim.host.errors import RulesError
from sim.host.scripts import check_command

# host-spec DE 39: the only response codes the host may send.
RESPONSE_CODES = frozenset(
    {"00", "05", "12", "14", "25", "30", "51", "54", "55", "57", "91", "94", "95", "96"}
)


@dataclass(frozen=True, slots=True)
class CardRule:
    """A PAN (``pan``) or a PAN range (``prefix``); the longest match wins."""

    pan: str = ""
    prefix: str = ""
    pin: str | None = None
    pin_required: bool = False
    max_amount: int | None = None
    balance: int | None = None  # present: a prepaid card with this opening balance
    response: str | None = None  # forced DE 39 for financial requests
    scripts: tuple[str, ...] = ()
    script_tag: int = 0x72

    def __repr__(self) -> str:  # never the PAN or PIN
        return f"CardRule(prefix={self.prefix[:6]!r}, prepaid={self.balance is not None})"


@dataclass(frozen=True, slots=True)
class VoucherRule:
    code: str
    value: int
    expires: _dt.date | None = None


@dataclass(frozen=True, slots=True)
class QrRule:
    code: str
    max_amount: int | None = None
    response: str | None = None


@dataclass(frozen=True, slots=True)
class IssuerRule:
    prefix: str
    keys: IssuerKeys


@dataclass(frozen=True, slots=True)
class FaultRule:
    mode: str
    seconds: float = 0.0
    mti: str | None = None
    count: int = 1
    process: bool = True


@dataclass(frozen=True, slots=True)
class Rules:
    cards: tuple[CardRule, ...] = ()
    vouchers: tuple[VoucherRule, ...] = ()
    qr: tuple[QrRule, ...] = ()
    issuers: tuple[IssuerRule, ...] = ()
    faults: tuple[FaultRule, ...] = ()
    today: _dt.date | None = None
    require_arqc: bool = False
    declines: bool = False
    currency: str = "978"
    scripts_on_decline: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def card_for(self, pan: str) -> CardRule | None:
        best: CardRule | None = None
        best_len = -1
        for card in self.cards:
            if card.pan:
                if card.pan == pan:
                    return card
                continue
            if pan.startswith(card.prefix) and len(card.prefix) > best_len:
                best, best_len = card, len(card.prefix)
        return best

    def issuer_for(self, pan: str) -> IssuerKeys | None:
        match = [i for i in self.issuers if pan.startswith(i.prefix)]
        return max(match, key=lambda i: len(i.prefix)).keys if match else None

    def voucher(self, code: str) -> VoucherRule | None:
        return next((v for v in self.vouchers if v.code == code), None)

    def qr_code(self, code: str) -> QrRule | None:
        return next((q for q in self.qr if q.code == code), None)

    def current_date(self) -> _dt.date:
        return self.today or _dt.datetime.now(_dt.UTC).date()


def _rc(where: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in RESPONSE_CODES:
        raise RulesError(where, f"response must be one of host-spec's codes, got {value!r}")
    return value


def _hexkey(where: str, value: Any) -> bytes:
    try:
        key = bytes.fromhex(str(value))
    except ValueError:
        raise RulesError(where, "key is not hex") from None
    if len(key) != 16:
        raise RulesError(where, "issuer master keys are 16-byte double-length TDES keys")
    return key


def _date(where: str, value: Any) -> _dt.date | None:
    if value is None or isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError:
        raise RulesError(where, f"not an ISO date: {value!r}") from None


def _table(doc: Mapping[str, Any], key: str) -> Sequence[Mapping[str, Any]]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RulesError(key, f"must be an array of tables ([[{key}]])")
    return value


def _digits(where: str, value: Any) -> str:
    text = str(value)
    if not text.isdigit():
        raise RulesError(where, "must be digits")
    return text


def rules_from_dict(doc: Mapping[str, Any]) -> Rules:
    """Build Rules from a parsed TOML document. Raises RulesError."""
    try:
        return _rules(doc)
    except KeyError as exc:
        raise RulesError(str(exc), "required key missing") from None
    except (TypeError, ValueError) as exc:
        raise RulesError("rules", f"bad value: {exc}") from None


def _rules(doc: Mapping[str, Any]) -> Rules:
    host = doc.get("host", {})
    cards = []
    for n, c in enumerate(_table(doc, "cards")):
        where = f"cards[{n}]"
        if ("pan" in c) == ("prefix" in c):
            raise RulesError(where, "give exactly one of pan or prefix")
        scripts = tuple(str(s) for s in c.get("scripts", []))
        for command in scripts:
            try:
                check_command(command)
            except ValueError as exc:
                raise RulesError(where + ".scripts", str(exc)) from None
        cards.append(
            CardRule(
                pan=_digits(where + ".pan", c["pan"]) if "pan" in c else "",
                prefix=_digits(where + ".prefix", c["prefix"]) if "prefix" in c else "",
                pin=str(c["pin"]) if "pin" in c else None,
                pin_required=bool(c.get("pin_required", False)),
                max_amount=c.get("max_amount"),
                balance=c.get("balance"),
                response=_rc(where + ".response", c.get("response")),
                scripts=scripts,
                script_tag=int(str(c.get("script_tag", 72)), 16),
            )
        )
    issuers = []
    for n, i in enumerate(_table(doc, "issuers")):
        where = f"issuers[{n}]"
        cvn = str(i.get("cvn", "auto"))
        if cvn != "auto" and cvn not in CVN_CLASSES:
            raise RulesError(where + ".cvn", f"one of auto, {', '.join(CVN_CLASSES)}")
        mk_ac = _hexkey(where + ".mk_ac", i.get("mk_ac"))
        keys = IssuerKeys(
            mk_ac=mk_ac,
            mk_smi=_hexkey(where + ".mk_smi", i.get("mk_smi", mk_ac.hex())),
            mk_smc=_hexkey(where + ".mk_smc", i.get("mk_smc", mk_ac.hex())),
            cvn=cvn,
        )
        issuers.append(
            IssuerRule(prefix=_digits(where + ".prefix", i.get("prefix", "")), keys=keys)
        )
    vouchers = [
        VoucherRule(
            code=str(v["code"]),
            value=int(v["value"]),
            expires=_date(f"vouchers[{n}]", v.get("expires")),
        )
        for n, v in enumerate(_table(doc, "vouchers"))
    ]
    qrs = [
        QrRule(
            code=str(q["code"]),
            max_amount=q.get("max_amount"),
            response=_rc(f"qr[{n}]", q.get("response")),
        )
        for n, q in enumerate(_table(doc, "qr"))
    ]
    faults = []
    for f in _table(doc, "faults"):
        faults.append(
            FaultRule(
                mode=str(f["mode"]),
                seconds=float(f.get("seconds", 0.0)),
                mti=f.get("mti"),
                count=int(f.get("count", 1)),
                process=bool(f.get("process", True)),
            )
        )
    return Rules(
        cards=tuple(cards),
        vouchers=tuple(vouchers),
        qr=tuple(qrs),
        issuers=tuple(issuers),
        faults=tuple(faults),
        today=_date("host.today", host.get("today")),
        require_arqc=bool(host.get("require_arqc", False)),
        declines=bool(host.get("declines", False)),
        currency=str(host.get("currency", "978")),
        scripts_on_decline=bool(host.get("scripts_on_decline", False)),
    )


def load_rules(path: str | Path) -> Rules:
    """Parse a rules TOML file. Raises RulesError naming the table/key at fault."""
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(str(path), f"not valid TOML: {exc}") from None
    return rules_from_dict(doc)

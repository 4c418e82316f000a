"""Certification suites: TOML files of cases, each a card, inputs and expected results.

A suite is data a lab can write by hand, so every problem is reported as a
:class:`SuiteError` that names the case and the key (``case 'sda'.expected.tvr``)
instead of a traceback. Keys are checked strictly: a misspelt expectation would
otherwise silently check nothing.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emv.bits import TSI, TVR
from emv.outcome import Decision, TerminationReason
from terminal.errors import UsageError


class SuiteError(UsageError):
    """A suite file that cannot be run as written (names the case and key)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


# Transaction type names → 9C (EMV 4.4 Book 3 Annex A, ISO 8583:1987 processing code).
TRANSACTION_TYPES = {"purchase": 0x00, "cash": 0x01, "cashback": 0x09, "refund": 0x20}
HOST_RESPONSES = ("approve", "decline", "unable")
SIM_FILE_PREFIX = "sim-file:"  # Case.card for a profile file; opened as a relative sim:// URL
PIN_ACTIONS = ("enter", "bypass", "cancel", "timeout", "fault")
CRYPTOGRAM_TYPES = ("TC", "ARQC", "AAC", "")
# Terminal-level overrides (KernelConfig / TerminalData) a case may set.
TERMINAL_KEYS = {
    "country_code": 2,
    "currency_code": 2,
    "currency_exponent": None,
    "terminal_type": 1,
    "capabilities": 3,
    "additional_capabilities": 5,
    "pin_bypass_allowed": None,
    "pse_enabled": None,
    "risk_management_regardless_of_aip": None,
    "exception_file": None,  # TEST PANs on the terminal exception file (Book 3 10.6.1)
}
# AID-table overrides; ``aid`` picks one row, otherwise every row changes.
AID_KEYS = {
    "aid": None,
    "app_version": 2,
    "tac_denial": 5,
    "tac_online": 5,
    "tac_default": 5,
    "floor_limit": None,
    "random_threshold": None,
    "random_target_percent": None,
    "random_max_target_percent": None,
    "partial_selection": None,  # ASI (Book 1 12.3.1)
    "default_ddol": 0,
}
CASE_KEYS = {
    "name",
    "description",
    "card",
    "profile",
    "faults",
    "pin",
    "pin_action",
    "choice",
    "confirm",
    "transaction",
    "host",
    "terminal",
    "aid",
    "expected",
    "known_kernel_issue",
    "book",
}
TXN_KEYS = {
    "type",
    "amount",
    "amount_other",
    "currency",
    "date",
    "time",
    "unpredictable_number",
    "random_selection",
    "force_online",
    "sequence_counter",
}
HOST_KEYS = {"response", "response_code", "issuer_authentication_data", "scripts", "auth_code"}
EXPECTED_KEYS = {
    "decision",
    "reason",
    "tvr",
    "tvr_set",
    "tvr_clear",
    "tsi",
    "tsi_set",
    "tsi_clear",
    "cvm_results",
    "genac1",
    "genac2",
    "aid",
    "script_results",
}
FAULT_KEYS = {
    "status_words",
    "malformed_tlv",
    "missing_tags",
    "pull_after",
    "bad_signatures",
    "expired_certs",
    "revoked_certs",
    "delay",
    "delays",
}


@dataclass(frozen=True, slots=True)
class Transaction:
    type: int = 0x00
    amount: int = 1500
    amount_other: int = 0
    currency: bytes | None = None  # 5F2A override, else the terminal's
    date: dt.date = dt.date(2026, 11, 25)
    time: dt.time = dt.time(9, 30)
    unpredictable_number: bytes = bytes.fromhex("A1B2C3D4")
    random_selection: int = 99
    force_online: bool = False
    sequence_counter: int = 1


@dataclass(frozen=True, slots=True)
class HostAnswer:
    response: str = "approve"  # approve / decline / unable
    response_code: str = ""  # 8A; default 00 (approve) or 05 (decline)
    issuer_authentication_data: bytes = b""  # 91
    scripts: tuple[bytes, ...] = ()  # whole 71/72 templates
    auth_code: str = ""


@dataclass(frozen=True, slots=True)
class Expected:
    decision: str = ""  # a Decision value, or approved / declined / terminated
    reason: str = ""  # TerminationReason name
    tvr: bytes | None = None
    tvr_set: TVR = TVR(0)  # noqa: RUF009 - an immutable flag value
    tvr_clear: TVR = TVR(0)  # noqa: RUF009
    tsi: bytes | None = None
    tsi_set: TSI = TSI(0)  # noqa: RUF009
    tsi_clear: TSI = TSI(0)  # noqa: RUF009
    cvm_results: bytes | None = None
    genac1: str | None = None  # TC / ARQC / AAC, "" = no first GENERATE AC
    genac2: str | None = None
    aid: bytes | None = None
    script_results: bytes | None = None  # 9F5B


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    card: str  # sim://PROFILE, pcsc://READER, or sim-file:/abs/path/profile.toml
    description: str = ""
    book: str = ""  # the clauses the expectation is derived from
    faults: Mapping[str, Any] = field(default_factory=dict)  # sim.card Faults keys
    pin: str = ""
    pin_action: str = "enter"
    choice: int | None = 0
    confirm: bool = True
    transaction: Transaction = Transaction()
    host: HostAnswer = HostAnswer()
    terminal: Mapping[str, Any] = field(default_factory=dict)
    aid: tuple[Mapping[str, Any], ...] = ()
    expected: Expected = Expected()
    known_kernel_issue: str = ""


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    cases: tuple[Case, ...]
    description: str = ""
    source: str = ""


# --------------------------------------------------------------------------- parsing


def load_suite(path: str | Path) -> Suite:
    """Read and check a suite file; raises SuiteError naming what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SuiteError(str(path), f"cannot read ({error})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SuiteError(str(path), f"not valid TOML ({error})") from None
    return parse_suite(data, source=str(path), base_dir=path.resolve().parent)


def parse_suite(
    data: Mapping[str, Any], source: str = "<suite>", base_dir: Path | None = None
) -> Suite:
    """Check a parsed suite; ``profile`` paths resolve against ``base_dir`` (default: cwd)."""
    base_dir = base_dir or Path.cwd()
    _only(data, source, {"suite", "defaults", "case"})
    head = _table(data, "suite", source)
    _only(head, f"{source} [suite]", {"name", "description"})
    defaults = _table(data, "defaults", source)
    _only(defaults, f"{source} [defaults]", CASE_KEYS - {"name", "expected"})
    raw_cases = data.get("case")
    if not isinstance(raw_cases, list) or not raw_cases:
        raise SuiteError(source, "needs at least one [[case]]")
    cases: list[Case] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_cases):
        if not isinstance(raw, Mapping):
            raise SuiteError(f"case #{index + 1}", "must be a table")
        name = raw.get("name")
        where = f"case #{index + 1}" if not isinstance(name, str) else f"case {name!r}"
        if not isinstance(name, str) or not name.strip():
            raise SuiteError(where, "name: required text")
        if name in seen:
            raise SuiteError(where, "name: used by an earlier case")
        seen.add(name)
        cases.append(parse_case(_merge(defaults, raw), where, base_dir))
    return Suite(
        name=str(head.get("name", Path(source).stem)),
        description=str(head.get("description", "")),
        cases=tuple(cases),
        source=source,
    )


def _merge(defaults: Mapping[str, Any], case: Mapping[str, Any]) -> dict[str, Any]:
    """Case keys over defaults; tables merge one level deep (so a case can add one key)
    and AID-table override rows add to the defaults' rows (applied in order)."""
    merged: dict[str, Any] = dict(defaults)
    for key, value in case.items():
        base = merged.get(key)
        if isinstance(base, Mapping) and isinstance(value, Mapping):
            merged[key] = {**base, **value}
        elif key == "aid" and base is not None:
            merged[key] = _rows(base) + _rows(value)
        else:
            merged[key] = value
    return merged


def _rows(value: Any) -> list[Any]:
    return (
        [value]
        if isinstance(value, Mapping)
        else list(value)
        if isinstance(value, list)
        else [value]
    )


def parse_case(raw: Mapping[str, Any], where: str, base_dir: Path = Path(".")) -> Case:
    _only(raw, where, CASE_KEYS)
    profile = _text(raw, "profile", where)
    if profile:
        # A lab's own simulated card: a sim profile file next to the suite.
        if "card" in raw:
            raise SuiteError(f"{where}.profile", "give either card or profile, not both")
        path = (base_dir / profile).resolve()
        if path.suffix != ".toml" or not path.is_file():
            raise SuiteError(f"{where}.profile", f"no card profile file {profile}")
        card = SIM_FILE_PREFIX + str(path)
    else:
        card = _text(raw, "card", where, required=True)
        if not (card.startswith("sim://") or card.startswith("pcsc://")):
            raise SuiteError(f"{where}.card", "must be sim://PROFILE or pcsc://READER")
    faults = _table(raw, "faults", where)
    _only(faults, f"{where}.faults", FAULT_KEYS)
    if faults and card.startswith("pcsc://"):
        raise SuiteError(f"{where}.faults", "only simulated (sim://) cards take faults")
    pin_action = _text(raw, "pin_action", where) or "enter"
    if pin_action not in PIN_ACTIONS:
        raise SuiteError(f"{where}.pin_action", f"one of {', '.join(PIN_ACTIONS)}")
    pin = _text(raw, "pin", where)
    if pin and (not pin.isdigit() or not 4 <= len(pin) <= 12):
        raise SuiteError(f"{where}.pin", "4 to 12 digits")
    choice = raw.get("choice", 0)
    if choice is not None and (not isinstance(choice, int) or isinstance(choice, bool)):
        raise SuiteError(f"{where}.choice", "an integer (candidate index)")
    return Case(
        name=str(raw["name"]),
        card=card,
        description=_text(raw, "description", where),
        book=_text(raw, "book", where),
        faults=dict(faults),
        pin=pin,
        pin_action=pin_action,
        choice=choice,
        confirm=_bool(raw, "confirm", where, True),
        transaction=_transaction(_table(raw, "transaction", where), f"{where}.transaction"),
        host=_host(_table(raw, "host", where), f"{where}.host"),
        terminal=_terminal(_table(raw, "terminal", where), f"{where}.terminal"),
        aid=_aids(raw.get("aid", []), f"{where}.aid"),
        expected=_expected(_table(raw, "expected", where), f"{where}.expected"),
        known_kernel_issue=_text(raw, "known_kernel_issue", where),
    )


def _transaction(t: Mapping[str, Any], where: str) -> Transaction:
    _only(t, where, TXN_KEYS)
    kind = t.get("type", "purchase")
    if isinstance(kind, str) and kind in TRANSACTION_TYPES:
        code = TRANSACTION_TYPES[kind]
    elif isinstance(kind, str) and len(kind) == 2 and kind.isdigit():
        code = int(kind, 16)  # 9C is n2: "00", "01", "09", "20"
    else:
        raise SuiteError(f"{where}.type", f"one of {', '.join(TRANSACTION_TYPES)} or two digits")
    try:
        date = dt.date.fromisoformat(str(t.get("date", "2026-11-25")))
    except ValueError:
        raise SuiteError(f"{where}.date", "YYYY-MM-DD") from None
    try:
        time = dt.time.fromisoformat(str(t.get("time", "09:30:00")))
    except ValueError:
        raise SuiteError(f"{where}.time", "HH:MM:SS") from None
    currency = t.get("currency")
    if currency is not None and (not isinstance(currency, str) or not _digits(currency, 4)):
        raise SuiteError(f"{where}.currency", "4 digits (ISO 4217 numeric, zero-padded)")
    return Transaction(
        type=code,
        amount=_int(t, "amount", where, 1500, 0, 999_999_999_999),
        amount_other=_int(t, "amount_other", where, 0, 0, 999_999_999_999),
        currency=bytes.fromhex(currency) if currency else None,
        date=date,
        time=time,
        unpredictable_number=_hex(t, "unpredictable_number", where, 4) or bytes.fromhex("A1B2C3D4"),
        random_selection=_int(t, "random_selection", where, 99, 1, 99),
        force_online=_bool(t, "force_online", where, False),
        sequence_counter=_int(t, "sequence_counter", where, 1, 0, 99_999_999),
    )


def _host(h: Mapping[str, Any], where: str) -> HostAnswer:
    _only(h, where, HOST_KEYS)
    response = _text(h, "response", where) or "approve"
    if response not in HOST_RESPONSES:
        raise SuiteError(f"{where}.response", f"one of {', '.join(HOST_RESPONSES)}")
    code = _text(h, "response_code", where)
    if code and len(code) != 2:
        raise SuiteError(f"{where}.response_code", "two characters (8A)")
    scripts = h.get("scripts", [])
    if not isinstance(scripts, list):
        raise SuiteError(f"{where}.scripts", "a list of hex 71/72 templates")
    parsed: list[bytes] = []
    for i, script in enumerate(scripts):
        value = _hexvalue(script, f"{where}.scripts[{i}]")
        if not value or value[0] not in (0x71, 0x72):
            raise SuiteError(f"{where}.scripts[{i}]", "must be a whole 71 or 72 template")
        parsed.append(value)
    return HostAnswer(
        response=response,
        response_code=code,
        issuer_authentication_data=_hex(h, "issuer_authentication_data", where) or b"",
        scripts=tuple(parsed),
        auth_code=_text(h, "auth_code", where),
    )


def _terminal(t: Mapping[str, Any], where: str) -> dict[str, Any]:
    _only(t, where, set(TERMINAL_KEYS))
    out: dict[str, Any] = {}
    for key, size in TERMINAL_KEYS.items():
        if key not in t:
            continue
        if size is not None:
            out[key] = _hex(t, key, where, size)
        elif key == "exception_file":
            pans = t[key]
            if not isinstance(pans, list) or not all(
                isinstance(p, str) and p.isdigit() and 12 <= len(p) <= 19 for p in pans
            ):
                raise SuiteError(f"{where}.{key}", "a list of PANs (12 to 19 digits)")
            out[key] = frozenset(pans)
        elif key == "currency_exponent":
            out[key] = _int(t, key, where, 2, 0, 3)
        else:
            out[key] = _bool(t, key, where, False)
    return out


def _aids(value: Any, where: str) -> tuple[dict[str, Any], ...]:
    rows = [value] if isinstance(value, Mapping) else value
    if not isinstance(rows, list):
        raise SuiteError(where, "a table (or list of tables) of AID-table overrides")
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        at = f"{where}[{i}]"
        if not isinstance(row, Mapping):
            raise SuiteError(at, "must be a table")
        _only(row, at, set(AID_KEYS))
        parsed: dict[str, Any] = {}
        for key, size in AID_KEYS.items():
            if key not in row:
                continue
            if key == "aid" or size == 0:
                parsed[key] = _hex(row, key, at)
            elif key == "partial_selection":
                parsed[key] = _bool(row, key, at, True)
            elif size is not None:
                parsed[key] = _hex(row, key, at, size)
            else:
                high = 100 if "percent" in key else 999_999_999_999
                parsed[key] = _int(row, key, at, 0, 0, high)
        out.append(parsed)
    return tuple(out)


def _expected(e: Mapping[str, Any], where: str) -> Expected:
    _only(e, where, EXPECTED_KEYS)
    decision = _text(e, "decision", where)
    allowed = [d.value for d in Decision] + ["approved", "declined"]
    if decision and decision not in allowed:
        raise SuiteError(f"{where}.decision", f"one of {', '.join(allowed)}")
    reason = _text(e, "reason", where)
    if reason and reason not in TerminationReason.__members__:
        raise SuiteError(f"{where}.reason", f"one of {', '.join(TerminationReason.__members__)}")
    genacs: dict[str, str | None] = {}
    for key in ("genac1", "genac2"):
        value = e.get(key)
        if value is not None and value not in CRYPTOGRAM_TYPES:
            raise SuiteError(f"{where}.{key}", 'TC, ARQC, AAC or "" (not sent)')
        genacs[key] = value
    return Expected(
        decision=decision,
        reason=reason,
        tvr=_hex(e, "tvr", where, 5),
        tvr_set=_bits(TVR, e, "tvr_set", where),
        tvr_clear=_bits(TVR, e, "tvr_clear", where),
        tsi=_hex(e, "tsi", where, 2),
        tsi_set=_bits(TSI, e, "tsi_set", where),
        tsi_clear=_bits(TSI, e, "tsi_clear", where),
        cvm_results=_hex(e, "cvm_results", where, 3),
        genac1=genacs["genac1"],
        genac2=genacs["genac2"],
        aid=_hex(e, "aid", where),
        script_results=_hex(e, "script_results", where),
    )


# --------------------------------------------------------------------------- helpers


def _only(table: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise SuiteError(
                f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
            )


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise SuiteError(f"{where}.{key}", "must be a table")
    return value


def _text(data: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise SuiteError(f"{where}.{key}", "required")
        return ""
    if not isinstance(value, str):
        raise SuiteError(f"{where}.{key}", "must be text")
    return value


def _bool(data: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise SuiteError(f"{where}.{key}", "must be true or false")
    return value


def _int(data: Mapping[str, Any], key: str, where: str, default: int, low: int, high: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SuiteError(f"{where}.{key}", f"an integer {low}..{high}")
    return value


def _digits(text: str, n: int) -> bool:
    return len(text) == n and text.isdigit()


def _hexvalue(value: Any, where: str, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise SuiteError(where, "must be hex text")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise SuiteError(where, "not hex") from None
    if size is not None and len(raw) != size:
        raise SuiteError(where, f"must be {size} bytes ({2 * size} hex digits)")
    return raw


def _hex(data: Mapping[str, Any], key: str, where: str, size: int | None = None) -> bytes | None:
    if key not in data:
        return None
    return _hexvalue(data[key], f"{where}.{key}", size)


def _bits(flag: type[TVR] | type[TSI], data: Mapping[str, Any], key: str, where: str) -> Any:
    names = data.get(key, [])
    if not isinstance(names, list):
        raise SuiteError(f"{where}.{key}", f"a list of {flag.__name__} bit names (emv.bits)")
    value = flag(0)
    for name in names:
        if not isinstance(name, str) or name.upper() not in flag.__members__:
            raise SuiteError(f"{where}.{key}", f"{name!r} is not a {flag.__name__} bit (emv.bits)")
        value |= flag[name.upper()]
    return value

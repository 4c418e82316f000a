"""Run one certification case: open the card, run the real kernel, compare with the book.

Cards are opened through ``hal.registry`` (``sim://PROFILE`` reaches the simulator
through the ``posterm.drivers`` entry point, ``pcsc://READER`` a real reader), so
terminal/ never imports sim/. The cardholder and the host are played from the case.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from emv.bits import TSI, TVR
from emv.callbacks import (
    Candidate,
    DefaultCallbacks,
    OnlineRequest,
    OnlineResponse,
    PinEntry,
    PinKind,
    PinRequest,
    PinStatus,
)
from emv.config import AidEntry, KernelConfig
from emv.context import TransactionContext, TransactionInput
from emv.kernel import run_context
from emv.outcome import KernelResult
from emv.recording import Recording, result_summary, to_dict
from emv.transport import CardTransportError
from hal.errors import HalError
from hal.pinentry import offline_pin_consumer
from hal.registry import open_device
from terminal.certify.suite import SIM_FILE_PREFIX, Case, Expected
from terminal.config import load_config, parse_config
from terminal.emvconfig import kernel_config

CARD_WAIT_SECONDS = 10.0
ONLINE_PIN_PLACEHOLDER = bytes(8)  # certify checks the card side; the host never sees it
_PIN_STATUS = {
    "bypass": PinStatus.BYPASSED,
    "cancel": PinStatus.CANCELLED,
    "timeout": PinStatus.TIMEOUT,
    "fault": PinStatus.PINPAD_FAULT,
}


class Verdict:
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    KNOWN_ISSUE = "known issue"  # failed as the case's known_kernel_issue says
    FIXED = "fixed?"  # a known issue that no longer fails: the case should lose the mark
    ERROR = "error"  # the case could not run (no card, reader missing)


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: Case
    verdict: str
    seconds: float
    actual: Mapping[str, str] = field(default_factory=dict)
    differences: tuple[str, ...] = ()  # "tvr: expected ..., got ..."
    error: str = ""
    recording: Mapping[str, Any] | None = None  # emv.recording document when asked for

    @property
    def unexpected(self) -> bool:
        """Counts against the exit code: a failure or a case that could not run.

        A known kernel issue is reported apart; one that no longer fails ("fixed?")
        is a prompt to drop the mark, not a failure."""
        return self.verdict in (Verdict.FAIL, Verdict.ERROR)


# --------------------------------------------------------------------------- config


def base_config(path: str | None = None) -> KernelConfig:
    """The terminal configuration cases start from: the file at ``path`` (rig-contract
    TOML: its [terminal], [[aids]], [[ca_keys]], revocations) or the built-in one."""
    if path is not None:
        return kernel_config(load_config(path))
    config = parse_config(
        {
            "terminal": {"data_dir": "/nonexistent/posterm-certify"},
            "host": {"url": "tcp://127.0.0.1:8583"},
            "merchants": [{"name": "CERTIFY", "tid": "TERM0001", "mid": "MERCHANT0000001"}],
        }
    )
    return kernel_config(config)


def case_config(base: KernelConfig, case: Case) -> KernelConfig:
    terminal_changes: dict[str, Any] = {}
    config_changes: dict[str, Any] = {}
    for key, value in case.terminal.items():
        if key == "terminal_type":
            terminal_changes[key] = value[0]
        elif key in (
            "pin_bypass_allowed",
            "pse_enabled",
            "risk_management_regardless_of_aip",
            "exception_file",
        ):
            config_changes[key] = value
        else:
            terminal_changes[key] = value
    if case.transaction.currency is not None:
        terminal_changes["currency_code"] = case.transaction.currency
    terminal = dataclasses.replace(base.terminal, **terminal_changes)
    aids = tuple(_aid_row(entry, case.aid) for entry in base.aids)
    return dataclasses.replace(base, terminal=terminal, aids=aids, **config_changes)


def _aid_row(entry: AidEntry, overrides: Sequence[Mapping[str, Any]]) -> AidEntry:
    names = {"app_version": "application_version"}
    for row in overrides:
        if "aid" in row and row["aid"] != entry.aid:
            continue
        changes = {names.get(k, k): v for k, v in row.items() if k != "aid"}
        entry = dataclasses.replace(entry, **changes)
    return entry


def transaction_input(case: Case) -> TransactionInput:
    t = case.transaction
    return TransactionInput(
        amount=t.amount,
        amount_other=t.amount_other,
        date=t.date,
        time=t.time,
        unpredictable_number=t.unpredictable_number,
        random_selection=t.random_selection,
        transaction_type=t.type,
        sequence_counter=t.sequence_counter,
        force_online=t.force_online,
        cash=t.type == 0x01,
    )


# --------------------------------------------------------------------------- cardholder/host


class CaseCallbacks(DefaultCallbacks):
    """The cardholder and host of one case."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.online_requests = 0
        self.online_response: OnlineResponse | None = None
        self.random_drawn = bytearray()  # kept so a recording can replay enciphered PIN
        self.pin_asked = False

    def choose_application(self, candidates: Sequence[Candidate]) -> int | None:
        return self.case.choice

    def confirm_application(self, candidate: Candidate) -> bool:
        return self.case.confirm

    def enter_pin(self, request: PinRequest) -> PinEntry:
        self.pin_asked = True
        action = self.case.pin_action
        if action != "enter":
            return PinEntry(_PIN_STATUS[action])
        if not self.case.pin:
            return PinEntry(PinStatus.PINPAD_FAULT)
        if request.kind is PinKind.ONLINE:
            return PinEntry(PinStatus.ENTERED, online_block=ONLINE_PIN_PLACEHOLDER, ksn=bytes(10))
        return PinEntry(
            PinStatus.ENTERED, offline=offline_pin_consumer(bytearray(self.case.pin, "ascii"))
        )

    def go_online(self, request: OnlineRequest) -> OnlineResponse | None:
        self.online_requests += 1
        host = self.case.host
        if host.response == "unable":
            return None
        approved = host.response == "approve"
        code = host.response_code or ("00" if approved else "05")
        self.online_response = OnlineResponse(
            approved=approved,
            response_code=code.encode("ascii"),
            issuer_authentication_data=host.issuer_authentication_data,
            scripts=host.scripts,
            authorisation_code=host.auth_code.encode("ascii"),
        )
        return self.online_response

    def random_bytes(self, length: int) -> bytes:
        """Random padding for offline enciphered PIN (Book 2, 7.1)."""
        chunk = secrets.token_bytes(length)
        self.random_drawn += chunk
        return chunk


# --------------------------------------------------------------------------- running


class CapturingTransport:
    """Passes APDUs to the card and keeps every completed exchange (for emv.recording)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.exchanges: list[tuple[bytes, bytes]] = []
        self.lost = False  # the card went away: the session cannot be replayed faithfully

    def transmit(self, apdu: bytes) -> bytes:
        try:
            response: bytes = self.inner.transmit(apdu)
        except CardTransportError:
            self.lost = True
            raise
        self.exchanges.append((bytes(apdu), bytes(response)))
        return response


def recording_of(
    case: Case,
    ctx: TransactionContext,
    transport: CapturingTransport,
    callbacks: CaseCallbacks,
    result: KernelResult,
) -> dict[str, Any] | None:
    """The session as an emv.recording document (TEST cards only), or None when the
    recording format cannot say what happened (card removed, PIN bypassed/cancelled)."""
    if transport.lost:
        return None
    if callbacks.pin_asked and case.pin_action not in ("enter", "fault"):
        return None  # a recording replays a typed PIN or a PIN pad fault, nothing else
    recording = Recording(
        name=case.name,
        description=case.description,
        config=ctx.config,
        txn=ctx.txn,
        exchanges=tuple(transport.exchanges),
        online=callbacks.online_response,
        pin=case.pin if case.pin_action == "enter" and callbacks.pin_asked else "",
        random=bytes(callbacks.random_drawn),
        choice=case.choice,
        expected=result_summary(result),
    )
    return to_dict(recording)


def open_card(case: Case) -> tuple[Any, Any]:
    """(reader, session) for the case's card; faults go to the simulated card."""
    reader = open_device("contact_reader", device_url(case.card))
    if case.faults:
        _apply_faults(reader, case.faults)
    wait = getattr(reader, "wait_for_card", None)
    if wait is not None:
        wait(CARD_WAIT_SECONDS)  # a real reader may report the card a moment late
    return reader, reader.power_on()


def device_url(card: str) -> str:
    """``sim-file:/abs/x.toml`` -> ``sim://<path relative to cwd>``: sim:// URLs carry a
    profile name or a relative profile path (an absolute one would lose its leading /)."""
    if not card.startswith(SIM_FILE_PREFIX):
        return card
    relative = os.path.relpath(card.removeprefix(SIM_FILE_PREFIX))
    return "sim://" + urllib.parse.quote(relative)


def _apply_faults(reader: Any, faults: Mapping[str, Any]) -> None:
    """Re-insert the simulated card with faults, through the card's own types.

    ``sim.devices`` does not yet take a ``faults`` option for readers; the card it
    inserted knows its classes, so terminal/ still never imports sim/.
    """
    card = getattr(reader, "card", None)
    current = getattr(card, "faults", None)
    if card is None or current is None or not hasattr(reader, "insert"):
        raise HalError(f"{reader!r}: this reader's card takes no faults")
    chosen = type(current).from_dict(dict(faults))
    reader.insert(type(card)(card.profile, faults=chosen))


def summary(result: KernelResult, ctx: TransactionContext) -> dict[str, str]:
    return {
        "decision": result.decision.value,
        "reason": result.reason.name if result.reason else "",
        "tvr": result.tvr.hex().upper(),
        "tvr_bits": " ".join(TVR.from_bytes(result.tvr).names()) if len(result.tvr) == 5 else "",
        "tsi": result.tsi.hex().upper(),
        "cvm_results": result.cvm_results.hex().upper(),
        "genac1": _cryptogram(ctx.genac1),
        "genac2": _cryptogram(ctx.genac2),
        "aid": result.aid.hex().upper(),
        "script_results": bytes(ctx.issuer_script_results).hex().upper(),
        "detail": result.detail,
    }


def _cryptogram(response: Mapping[int, bytes]) -> str:
    cid = response.get(0x9F27)
    if not cid:
        return ""
    return {0x00: "AAC", 0x40: "TC", 0x80: "ARQC"}.get(cid[0] & 0xC0, "")


def compare(expected: Expected, actual: Mapping[str, str]) -> list[str]:
    """Every way ``actual`` falls short of ``expected`` (empty = pass)."""
    problems: list[str] = []

    def check(key: str, want: str | None) -> None:
        if want is not None and actual.get(key, "") != want:
            problems.append(
                f"{key}: expected {want or '(none)'}, got {actual.get(key) or '(none)'}"
            )

    decision = expected.decision
    if decision in ("approved", "declined"):
        got = actual["decision"]
        if not got.startswith(decision):
            problems.append(f"decision: expected {decision}, got {got}")
    elif decision:
        check("decision", decision)
    check("reason", expected.reason or None)
    for key in ("tvr", "tsi", "cvm_results", "aid", "script_results"):
        value = getattr(expected, key)
        check(key, value.hex().upper() if value is not None else None)
    check("genac1", expected.genac1)
    check("genac2", expected.genac2)
    tvr = TVR.from_bytes(bytes.fromhex(actual["tvr"])) if actual.get("tvr") else TVR(0)
    tsi = TSI.from_bytes(bytes.fromhex(actual["tsi"])) if actual.get("tsi") else TSI(0)
    problems += _bit_problems("TVR", tvr, expected.tvr_set, expected.tvr_clear)
    problems += _bit_problems("TSI", tsi, expected.tsi_set, expected.tsi_clear)
    return problems


def _bit_problems(label: str, value: Any, required: Any, forbidden: Any) -> list[str]:
    problems = []
    for flag in type(value):
        if flag & required and not flag & value:
            problems.append(f"{label} {flag.name}: expected set, is clear")
        if flag & forbidden and flag & value:
            problems.append(f"{label} {flag.name}: expected clear, is set")
    return problems


def run_case(case: Case, base: KernelConfig | None = None, *, record: bool = False) -> CaseResult:
    """Run ``case`` once; never raises for what the card, reader or kernel does.

    ``record`` keeps the session as an emv.recording document in ``CaseResult.recording``.
    """
    start = time.perf_counter()
    config = case_config(base or base_config(), case)
    try:
        txn = transaction_input(case)
        reader, session = open_card(case)
    except Exception as error:  # noqa: BLE001 - a driver plug-in's own errors (sim.errors,
        # pyscard) must become this case's "error" verdict, not end the whole run.
        return CaseResult(case, Verdict.ERROR, time.perf_counter() - start, error=_describe(error))
    ctx = TransactionContext.new(config, txn)
    transport = CapturingTransport(session)
    callbacks = CaseCallbacks(case)
    try:
        result = run_context(ctx, transport, callbacks)
    except Exception as error:  # noqa: BLE001 - the kernel promises never to raise; if it
        # does, that is this case's finding, not the end of the whole run.
        return CaseResult(
            case,
            Verdict.ERROR,
            time.perf_counter() - start,
            error=f"kernel raised {_describe(error)}",
        )
    finally:
        _close(reader)
    actual = summary(result, ctx)
    problems = compare(case.expected, actual)
    if case.known_kernel_issue:
        verdict = Verdict.KNOWN_ISSUE if problems else Verdict.FIXED
    else:
        verdict = Verdict.FAIL if problems else Verdict.PASS
    recording = recording_of(case, ctx, transport, callbacks, result) if record else None
    return CaseResult(
        case, verdict, time.perf_counter() - start, actual, tuple(problems), recording=recording
    )


def _close(reader: Any) -> None:
    for name in ("power_off", "close"):
        method = getattr(reader, name, None)
        if method is not None:
            with contextlib.suppress(HalError, OSError):
                method()


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"

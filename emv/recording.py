"""Recorded card sessions that can be replayed against the kernel.

A :class:`Recording` holds everything one transaction depended on: the kernel
configuration, the transaction input, every command/response pair in order, the
host's answer and the expected result. Replaying it runs the real kernel over a
:class:`ReplayTransport` that answers from the recording and notices the moment
the kernel sends something else.

Recordings are raw (unmasked) and meant for TEST cards only: a lab's scripted
card sessions, the simulator's TEST ONLY profiles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from emv.callbacks import OnlineResponse
from emv.config import (
    AidEntry,
    KernelConfig,
    RevokedCertificate,
    TerminalData,
    ca_keys_from_rows,
)
from emv.context import TransactionInput
from emv.errors import EmvError
from emv.outcome import KernelResult

FORMAT = "posterm-emv-recording/1"


class RecordingError(EmvError):
    """A recording file that is not in the expected form (names the field)."""


class ReplayDivergence(EmvError):
    """The kernel sent a command the recording does not have at this position."""

    def __init__(self, index: int, expected: bytes | None, sent: bytes) -> None:
        want = expected[:5].hex().upper() if expected is not None else "end of recording"
        super().__init__(
            f"exchange {index}: kernel sent {sent[:5].hex().upper()}…, recording has {want}"
        )
        self.index = index


@dataclass(frozen=True, slots=True)
class Recording:
    name: str
    config: KernelConfig
    txn: TransactionInput
    exchanges: tuple[tuple[bytes, bytes], ...]
    online: OnlineResponse | None = None  # None: the host could not be reached
    pin: str = ""  # TEST card PIN typed at the PIN pad, "" when none was asked
    random: bytes = b""  # random padding handed out (offline enciphered PIN)
    choice: int | None = 0  # cardholder's application choice
    expected: Mapping[str, str] = field(default_factory=dict)
    description: str = ""


class ReplayTransport:
    """A CardTransport answering from a recording, in order."""

    def __init__(self, exchanges: tuple[tuple[bytes, bytes], ...]) -> None:
        self.exchanges = exchanges
        self.position = 0
        self.divergence: ReplayDivergence | None = None  # kept: the kernel catches it

    def transmit(self, apdu: bytes) -> bytes:
        expected = self.exchanges[self.position][0] if self.position < len(self.exchanges) else None
        if apdu != expected:
            self.divergence = ReplayDivergence(self.position, expected, apdu)
            raise self.divergence
        response = self.exchanges[self.position][1]
        self.position += 1
        return response

    @property
    def complete(self) -> bool:
        return self.position == len(self.exchanges)


def result_summary(result: KernelResult) -> dict[str, str]:
    """The fields a recording's ``expected`` compares (all strings)."""
    return {
        "decision": result.decision.value,
        "reason": result.reason.name if result.reason else "",
        "tvr": result.tvr.hex().upper(),
        "tsi": result.tsi.hex().upper(),
        "cvm_results": result.cvm_results.hex().upper(),
        "cryptogram_type": result.cryptogram_type,
        "aid": result.aid.hex().upper(),
    }


def mismatches(expected: Mapping[str, str], result: KernelResult) -> dict[str, tuple[str, str]]:
    """Field -> (expected, actual) for every expected field the result does not match."""
    actual = result_summary(result)
    return {
        key: (value, actual.get(key, ""))
        for key, value in expected.items()
        if actual.get(key, "") != value
    }


# --- JSON-compatible form -------------------------------------------------------------


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex().upper()


def config_to_dict(config: KernelConfig) -> dict[str, Any]:
    term = config.terminal
    return {
        "terminal": {
            "country_code": _hex(term.country_code),
            "currency_code": _hex(term.currency_code),
            "currency_exponent": term.currency_exponent,
            "terminal_type": f"{term.terminal_type:02X}",
            "capabilities": _hex(term.capabilities),
            "additional_capabilities": _hex(term.additional_capabilities),
            "ifd_serial": _hex(term.ifd_serial),
            "merchant_name_location": _hex(term.merchant_name_location),
            "merchant_category_code": _hex(term.merchant_category_code),
            "terminal_id": _hex(term.terminal_id),
            "merchant_id": _hex(term.merchant_id),
            "acquirer_id": _hex(term.acquirer_id),
        },
        "aids": [
            {
                "aid": _hex(a.aid),
                "label": a.label,
                "partial_selection": a.partial_selection,
                "application_version": _hex(a.application_version),
                "tac_denial": _hex(a.tac_denial),
                "tac_online": _hex(a.tac_online),
                "tac_default": _hex(a.tac_default),
                "floor_limit": a.floor_limit,
                "random_threshold": a.random_threshold,
                "random_target_percent": a.random_target_percent,
                "random_max_target_percent": a.random_max_target_percent,
                "default_ddol": _hex(a.default_ddol),
                "default_tdol": _hex(a.default_tdol),
            }
            for a in config.aids
        ],
        "ca_keys": [
            {
                "rid": _hex(k.rid),
                "index": f"{k.index:02X}",
                "modulus": _hex(k.modulus),
                "exponent": _hex(k.exponent),
                "expiry": k.expiry.isoformat() if k.expiry else None,
            }
            for k in config.ca_keys
        ],
        "revoked": [
            {"rid": _hex(r.rid), "index": f"{r.ca_index:02X}", "serial": _hex(r.serial)}
            for r in sorted(config.revoked, key=lambda r: (r.rid, r.ca_index, r.serial))
        ],
        "pin_bypass_allowed": config.pin_bypass_allowed,
        "fallback_allowed": config.fallback_allowed,
        "pse_enabled": config.pse_enabled,
        "support_cardholder_confirmation": config.support_cardholder_confirmation,
    }


def _b(data: Mapping[str, Any], key: str, where: str) -> bytes:
    value = data.get(key)
    if value is None:
        return b""
    if not isinstance(value, str):
        raise RecordingError(f"{where}.{key}: expected hex text")
    try:
        return bytes.fromhex(value)
    except ValueError as error:
        raise RecordingError(f"{where}.{key}: not hex") from error


def _opt_b(data: Mapping[str, Any], key: str, where: str) -> bytes | None:
    return None if data.get(key) is None else _b(data, key, where)


def config_from_dict(data: Mapping[str, Any]) -> KernelConfig:
    """Raises RecordingError naming the first field that is wrong."""
    try:
        term = data.get("terminal", {})
        terminal = TerminalData(
            country_code=_b(term, "country_code", "terminal"),
            currency_code=_b(term, "currency_code", "terminal"),
            currency_exponent=int(term.get("currency_exponent", 2)),
            terminal_type=int(str(term.get("terminal_type", "22")), 16),
            capabilities=_b(term, "capabilities", "terminal"),
            additional_capabilities=_b(term, "additional_capabilities", "terminal"),
            ifd_serial=_b(term, "ifd_serial", "terminal"),
            merchant_name_location=_b(term, "merchant_name_location", "terminal"),
            merchant_category_code=_b(term, "merchant_category_code", "terminal"),
            terminal_id=_b(term, "terminal_id", "terminal"),
            merchant_id=_b(term, "merchant_id", "terminal"),
            acquirer_id=_b(term, "acquirer_id", "terminal"),
        )
        aids = tuple(
            AidEntry(
                aid=_b(a, "aid", f"aids[{i}]"),
                label=str(a.get("label", "")),
                partial_selection=bool(a.get("partial_selection", True)),
                application_version=_b(a, "application_version", f"aids[{i}]"),
                tac_denial=_opt_b(a, "tac_denial", f"aids[{i}]"),
                tac_online=_opt_b(a, "tac_online", f"aids[{i}]"),
                tac_default=_opt_b(a, "tac_default", f"aids[{i}]"),
                floor_limit=int(a.get("floor_limit", 0)),
                random_threshold=int(a.get("random_threshold", 0)),
                random_target_percent=int(a.get("random_target_percent", 0)),
                random_max_target_percent=int(a.get("random_max_target_percent", 0)),
                default_ddol=_b(a, "default_ddol", f"aids[{i}]"),
                default_tdol=_b(a, "default_tdol", f"aids[{i}]"),
            )
            for i, a in enumerate(data.get("aids", []))
        )
        ca_keys = ca_keys_from_rows(data.get("ca_keys", []))
        revoked = frozenset(
            RevokedCertificate(
                _b(r, "rid", f"revoked[{i}]"), int(str(r["index"]), 16), _b(r, "serial", "revoked")
            )
            for i, r in enumerate(data.get("revoked", []))
        )
        return KernelConfig(
            terminal=terminal,
            aids=aids,
            ca_keys=ca_keys,
            revoked=revoked,
            pin_bypass_allowed=bool(data.get("pin_bypass_allowed", True)),
            fallback_allowed=bool(data.get("fallback_allowed", True)),
            pse_enabled=bool(data.get("pse_enabled", True)),
            support_cardholder_confirmation=bool(data.get("support_cardholder_confirmation", True)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise RecordingError(f"config: {type(error).__name__}: {error}") from error


def txn_to_dict(txn: TransactionInput) -> dict[str, Any]:
    return {
        "amount": txn.amount,
        "amount_other": txn.amount_other,
        "date": txn.date.isoformat(),
        "time": txn.time.isoformat(),
        "unpredictable_number": _hex(txn.unpredictable_number),
        "random_selection": txn.random_selection,
        "transaction_type": txn.transaction_type,
        "sequence_counter": txn.sequence_counter,
        "force_online": txn.force_online,
        "cash": txn.cash,
    }


def txn_from_dict(data: Mapping[str, Any]) -> TransactionInput:
    try:
        return TransactionInput(
            amount=int(data["amount"]),
            amount_other=int(data.get("amount_other", 0)),
            date=dt.date.fromisoformat(data["date"]),
            time=dt.time.fromisoformat(data["time"]),
            unpredictable_number=_b(data, "unpredictable_number", "txn"),
            random_selection=int(data.get("random_selection", 99)),
            transaction_type=int(data.get("transaction_type", 0)),
            sequence_counter=int(data.get("sequence_counter", 1)),
            force_online=bool(data.get("force_online", False)),
            cash=bool(data.get("cash", False)),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise RecordingError(f"txn: {type(error).__name__}: {error}") from error


def to_dict(recording: Recording) -> dict[str, Any]:
    online: dict[str, Any] | None = None
    if recording.online is not None:
        online = {
            "approved": recording.online.approved,
            "response_code": recording.online.response_code.decode("latin-1"),
            "issuer_authentication_data": _hex(recording.online.issuer_authentication_data),
            "scripts": [_hex(s) for s in recording.online.scripts],
            "authorisation_code": recording.online.authorisation_code.decode("latin-1"),
        }
    return {
        "format": FORMAT,
        "name": recording.name,
        "description": recording.description,
        "config": config_to_dict(recording.config),
        "txn": txn_to_dict(recording.txn),
        "pin": recording.pin,
        "random": _hex(recording.random),
        "choice": recording.choice,
        "online": online,
        "exchanges": [[_hex(c), _hex(r)] for c, r in recording.exchanges],
        "expected": dict(recording.expected),
    }


def from_dict(data: Mapping[str, Any]) -> Recording:
    """Raises RecordingError for a document that is not a recording."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise RecordingError(f"not a {FORMAT} document")
    try:
        online_data = data.get("online")
        online = None
        if online_data is not None:
            online = OnlineResponse(
                approved=bool(online_data["approved"]),
                response_code=str(online_data.get("response_code", "")).encode("latin-1"),
                issuer_authentication_data=_b(online_data, "issuer_authentication_data", "online"),
                scripts=tuple(bytes.fromhex(s) for s in online_data.get("scripts", [])),
                authorisation_code=str(online_data.get("authorisation_code", "")).encode("latin-1"),
            )
        exchanges = tuple(
            (bytes.fromhex(command), bytes.fromhex(response))
            for command, response in data["exchanges"]
        )
        choice = data.get("choice", 0)
        return Recording(
            name=str(data["name"]),
            description=str(data.get("description", "")),
            config=config_from_dict(data.get("config", {})),
            txn=txn_from_dict(data["txn"]),
            exchanges=exchanges,
            online=online,
            pin=str(data.get("pin", "")),
            random=_b(data, "random", "recording"),
            choice=None if choice is None else int(choice),
            expected={str(k): str(v) for k, v in dict(data.get("expected", {})).items()},
        )
    except (KeyError, TypeError, ValueError) as error:
        raise RecordingError(f"{type(error).__name__}: {error}") from error

"""`posterm pay` / ECR request checking, the DE 54 balance parser, the CVM receipt line,
card data from chip tags and the ECR line codec."""

from __future__ import annotations

import json
import queue
import socket
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emv.config import KernelConfig, TerminalData
from emv.context import TransactionContext as EmvContext
from emv.context import TransactionInput
from terminal.commands.pay import permissions, request_from
from terminal.ecr import EcrRequest, TcpEcr, parse_line
from terminal.errors import UsageError
from terminal.flows.chip import card_from_emv, cvm_outcome
from terminal.flows.online import parse_balance
from terminal.receipts import CvmOutcome


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "steal"}, "type must be"),
        ({"type": "sale"}, "needs --amount"),
        ({"type": "sale", "amount": -1}, "non-negative"),
        ({"type": "sale", "amount": True}, "non-negative"),
        ({"type": "sale", "amount": 1, "entry": "telepathy"}, "entry must be"),
        ({"type": "void"}, "needs --rrn"),
        ({"type": "completion", "amount": 5}, "needs --rrn"),
        ({"type": "sale", "amount": 1, "entry": "qr"}, "needs --qr"),
        ({"type": "sale", "amount": 1, "merchant": 7}, "must be a string"),
    ],
)
def test_request_errors(fields: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        request_from(fields, "op")


def test_roles_needed() -> None:
    assert permissions(request_from({"type": "sale", "amount": 1}, "op")) == ["sale"]
    keyed = request_from({"type": "sale", "amount": 1, "entry": "keyed"}, "op")
    assert permissions(keyed) == ["sale", "keyed"]
    assert permissions(request_from({"type": "void", "rrn": "1"}, "op")) == ["void"]


def test_method_defaults() -> None:
    assert request_from({"type": "sale", "amount": 1}, None).method == "chip"
    assert request_from({"type": "sale", "amount": 1, "voucher": "V"}, None).method == "voucher"
    assert request_from({"type": "sale", "amount": 1, "qr": "Q"}, None).method == "qr"


def test_qr_and_voucher_codes_stay_out_of_repr() -> None:
    request = request_from({"type": "sale", "amount": 1, "voucher": "GIFT-SECRET"}, None)
    assert "GIFT-SECRET" not in repr(request)


def test_balance_de54_published_layout() -> None:
    """ISO 8583:1987 DE 54 block: account type, amount type 02, currency, C/D, 12 digits
    (docs/sim-host.md example `0002978C000000009000` = 90.00 available)."""
    assert parse_balance("0002978C000000009000") == 9000
    assert parse_balance("0001978C000000000100" + "0002826D000000000250") == -250
    assert parse_balance(None) is None
    assert parse_balance("0001978C000000000100") is None


@given(st.text(max_size=80))
def test_balance_parser_never_raises(text: str) -> None:
    value = parse_balance(text)
    assert value is None or isinstance(value, int)


@given(st.sampled_from(["C", "D"]), st.integers(0, 999_999_999_999))
def test_balance_round_trip(sign: str, amount: int) -> None:
    assert parse_balance(f"0002826{sign}{amount:012d}") == (-amount if sign == "D" else amount)


@pytest.mark.parametrize(
    ("cvm", "line"),
    [
        ("420300", CvmOutcome.PIN_VERIFIED),  # online PIN (EMV Book 3 Annex C3 code 02)
        ("440302", CvmOutcome.PIN_VERIFIED),  # enciphered offline PIN, successful
        ("410301", CvmOutcome.NONE),  # plaintext offline PIN, failed
        ("1E0300", CvmOutcome.SIGNATURE),
        ("1F0302", CvmOutcome.NO_CVM),
        ("030000", CvmOutcome.PIN_AND_SIGNATURE),
        ("", CvmOutcome.NONE),
    ],
)
def test_cvm_line(cvm: str, line: CvmOutcome) -> None:
    assert cvm_outcome(bytes.fromhex(cvm)) is line


def _emv(card: dict[int, bytes]) -> EmvContext:
    import datetime as dt

    config = KernelConfig(
        terminal=TerminalData(country_code=b"\x08\x26", currency_code=b"\x08\x26")
    )
    txn = TransactionInput(1, dt.date(2026, 1, 1), dt.time(12), bytes(4))
    ctx = EmvContext.new(config, txn)
    ctx.card.update(card)
    return ctx


def test_card_data_from_chip_tags() -> None:
    card = card_from_emv(
        _emv(
            {
                0x5A: bytes.fromhex("4761739001010044"),
                0x5F24: bytes.fromhex("301231"),
                0x5F34: b"\x01",
                0x57: bytes.fromhex("4761739001010044D30122010000000000000F"),
            }
        )
    )
    assert card is not None
    assert (card.pan, card.expiry, card.psn) == ("4761739001010044", "3012", "001")
    assert card.track2 == "4761739001010044=30122010000000000000"
    assert card.service_code == "201"
    assert "4761739001010044" not in repr(card)


@given(st.binary(max_size=24), st.binary(max_size=4), st.binary(max_size=2))
def test_card_data_never_raises(track2: bytes, expiry: bytes, psn: bytes) -> None:
    card_from_emv(_emv({0x57: track2, 0x5F24: expiry, 0x5F34: psn}))


@given(st.binary(max_size=200))
def test_ecr_line_parser_only_usage_errors(line: bytes) -> None:
    try:
        assert isinstance(parse_line(line), dict)
    except UsageError as error:
        assert line.decode("utf-8", "replace")[:8] not in str(error) or len(line) < 3


def test_tcp_ecr_answers_each_line_through_the_queue() -> None:
    requests: queue.Queue[EcrRequest] = queue.Queue()
    endpoint = TcpEcr(requests, "127.0.0.1", 0)
    endpoint.start()

    def worker() -> None:
        for _ in range(2):
            request = requests.get(timeout=5)
            request.answer = {"echo": request.fields.get("type")}
            request.done.set()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", endpoint.port), timeout=5) as conn:
            reader = conn.makefile("rb")
            conn.sendall(b'{"type": "sale"}\n[1, 2]\n\n{"type": "void"}\n')
            assert json.loads(reader.readline()) == {"echo": "sale"}
            assert "error" in json.loads(reader.readline())
            assert json.loads(reader.readline()) == {"echo": "void"}
    finally:
        endpoint.stop()
        thread.join(5)

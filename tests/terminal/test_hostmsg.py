"""terminal.hostmsg: ISO 8583 codec, DE 48/90, MAC placement, client validation over TCP."""

from __future__ import annotations

import datetime as dt

import iso8583
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iso8583 import specs

from keys import dukpt
from keys.mac import retail_mac
from terminal.hostmsg import (
    Acceptor,
    HostClient,
    HostClientSettings,
    MemoryKeySource,
    Message,
    NoValidResponse,
    Response,
    de48,
    de90,
    decode,
    encode,
    financial_request,
    pack,
    reconciliation,
    verify_mac,
)
from terminal.hostmsg.spec import entry_mode
from tests.terminal.hostpeer import IPEK, KSN, Peer

WHEN = dt.datetime(2026, 11, 25, 9, 30, 15)
ACCEPTOR = Acceptor("TERM0001", "MERCHANT0000001", "001")

tags = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=2)
values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


@given(st.lists(st.tuples(tags, values), max_size=12))
def test_de48_round_trip(items: list[tuple[str, str]]) -> None:
    text = de48.encode(items)
    assert de48.decode(text) == items


@given(st.text(max_size=40))
def test_de48_decode_never_crashes_unexpectedly(text: str) -> None:
    try:
        de48.decode(text)
    except de48.De48Error as error:
        assert 0 <= error.offset <= len(text)


def test_de48_layout_and_errors() -> None:
    assert de48.encode({"KS": "FFFF", "BN": "000001"}) == "KS004FFFFBN006000001"
    with pytest.raises(de48.De48Error, match="offset 6"):
        de48.decode("BN001XKS999")
    assert de48.replace("OP003abcKS002xy", "KS", "99") == "OP003abcKS00299"


def test_de90_layout() -> None:
    text = de90.OriginalData("0200", "000123", "1125093015").encode()
    assert text == "0200" + "000123" + "1125093015" + "0" * 22
    assert de90.decode(text).stan == "000123"
    with pytest.raises(de90.De90Error):
        de90.decode("12")


field_values = st.fixed_dictionaries(
    {},
    optional={
        2: st.text(alphabet="0123456789", min_size=12, max_size=19),
        3: st.sampled_from(["000000", "200000", "020000"]),
        4: st.integers(0, 10**12 - 1).map(lambda a: f"{a:012d}"),
        11: st.integers(1, 999999).map(lambda s: f"{s:06d}"),
        37: st.text(alphabet="0123456789", min_size=12, max_size=12),
        48: st.lists(st.tuples(tags, values), max_size=4).map(de48.encode),
        52: st.binary(min_size=8, max_size=8),
        55: st.binary(max_size=255),
        74: st.integers(0, 10**10 - 1).map(lambda a: f"{a:010d}"),
        90: st.text(alphabet="0123456789", min_size=42, max_size=42),
    },
)


@settings(max_examples=200)
@given(st.sampled_from(["0100", "0200", "0220", "0400", "0500"]), field_values)
def test_message_round_trip_and_mac(mti: str, fields: dict[int, str | bytes]) -> None:
    message = Message(mti, fields)
    assert decode(encode(message)) == message
    key = bytes(range(16))
    raw = pack(message, key)
    parsed = decode(raw)
    number = 128 if any(n > 64 for n in fields) else 64
    assert max(parsed.fields) == number  # the MAC is the last field
    assert verify_mac(raw, parsed, key)
    tampered = bytearray(raw)
    tampered[5] ^= 0x01
    try:
        bad = decode(bytes(tampered))
    except Exception:  # noqa: BLE001 - a flipped bitmap bit may make it undecodable
        return
    assert not verify_mac(bytes(tampered), bad, key)


def test_secondary_bitmap_exactly_when_field_above_64() -> None:
    low = pack(Message("0200", {3: "000000", 11: "000001"}), bytes(16))
    assert low[4] & 0x80 == 0  # no secondary bitmap
    high = pack(Message("0500", {3: "920000", 11: "000001", 74: "0" * 10}), bytes(16))
    assert high[4] & 0x80 == 0x80
    doc, _ = iso8583.decode(bytearray(high), specs.default)
    assert "128" in doc and "64" not in doc


def test_mac_is_retail_mac_over_every_byte_before_it() -> None:
    """host-spec Security: ISO 9797-1 alg 3, padding 1, over MTI+bitmaps+fields."""
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    raw = pack(Message("0200", {3: "000000", 4: "000000001000", 11: "000001"}), key)
    assert raw[-8:] == retail_mac(key, raw[:-8])
    # The bitmap already has bit 64 set in the MAC input.
    assert raw[4 + 7] & 0x01 == 0x01


def test_financial_request_fields() -> None:
    message = financial_request(
        "void",
        voids="sale",
        stan="000007",
        amount=1234,
        currency="0826",
        acceptor=ACCEPTOR,
        when=WHEN,
        entry_mode=entry_mode("chip", True),
        batch=3,
        pan="4761739001010010",
        rrn="123456789012",
        auth_code="ABC123",
        operator="op1",
    )
    assert message.mti == "0200"
    assert message.fields[3] == "020000" and message.fields[4] == "000000001234"
    assert message.fields[22] == "051" and message.fields[49] == "826"
    assert message.fields[12] == "093015" and message.fields[13] == "1125"
    assert message.de48_get("BN") == "000003" and message.de48_get("OP") == "op1"
    assert "4761739001010010" not in repr(message)
    pre = financial_request(
        "preauth",
        stan="000001",
        amount=1,
        currency="826",
        acceptor=ACCEPTOR,
        when=WHEN,
        entry_mode="051",
        batch=1,
    )
    assert pre.mti == "0100" and pre.fields[25] == "06"


def test_reconciliation_counts() -> None:
    message = reconciliation(
        stan="000009",
        acceptor=ACCEPTOR,
        when=WHEN,
        batch=2,
        currency="826",
        debit_count=3,
        debit_amount=4500,
        credit_count=1,
        credit_amount=200,
        after_upload=False,
    )
    assert message.fields[74] == "0000000001" and message.fields[76] == "0000000003"
    assert message.fields[86] == "0000000000000200" and message.fields[88] == "0000000000004500"
    assert message.mac_field == 128


# ---------------------------------------------------------------- client over real TCP


def client_for(peer: Peer, timeout: float = 1.0) -> HostClient:
    return HostClient(HostClientSettings("127.0.0.1", peer.port, response_timeout=timeout))


def sale() -> Message:
    return financial_request(
        "sale",
        stan="000001",
        amount=1000,
        currency="826",
        acceptor=ACCEPTOR,
        when=WHEN,
        entry_mode="051",
        batch=1,
    )


def test_client_sends_ks_and_mac_and_accepts_valid_answer() -> None:
    peer = Peer(lambda seen: {"39": "00", "37": "123456789012", "38": "A1B2C3"})
    try:
        keys = MemoryKeySource(IPEK, KSN)
        outcome = client_for(peer).exchange(sale(), keys.next_session())
        assert isinstance(outcome, Response) and outcome.approved
        assert outcome.message.text(37) == "123456789012"
        seen = peer.seen[0]
        assert seen.mac_ok is True
        assert "KS" in seen.fields["48"] and "64" in seen.fields
    finally:
        peer.close()


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        ("silence", "no response within"),
        ("close", "closed the connection"),
        ("garbage", "undecodable"),
        ("bad_mac", "MAC does not verify"),
        ("oversize", "exceeds 4096"),
        ("wrong_stan", "STAN does not echo"),
        ({"t": "0230"}, "does not pair"),
        ({"41": "OTHER001"}, "TID does not echo"),
    ],
)
def test_no_valid_response(action: object, reason: str) -> None:
    peer = Peer(lambda seen: action)
    try:
        outcome = client_for(peer, 0.3).exchange(sale(), MemoryKeySource(IPEK, KSN).next_session())
        assert isinstance(outcome, NoValidResponse) and outcome.sent
        assert reason in outcome.reason
    finally:
        peer.close()


def test_connect_failure_means_not_sent() -> None:
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    port = probe.getsockname()[1]
    client = HostClient(HostClientSettings("127.0.0.1", port, connect_timeout=0.5))
    outcome = client.exchange(sale(), MemoryKeySource(IPEK, KSN).next_session())
    probe.close()
    assert isinstance(outcome, NoValidResponse) and not outcome.sent


def test_sign_on_has_no_mac() -> None:
    from terminal.hostmsg import network_management

    peer = Peer()
    try:
        message = network_management("sign_on", stan="000001", acceptor=ACCEPTOR, when=WHEN)
        outcome = client_for(peer).exchange(message, None)
        assert isinstance(outcome, Response) and outcome.code == "00"
        assert peer.seen[0].fields["70"] == "001" and "64" not in peer.seen[0].fields
    finally:
        peer.close()


def test_pin_variant_matches_keys_module() -> None:
    session = MemoryKeySource(IPEK, KSN).next_session()
    key = dukpt.derive_transaction_key(IPEK, session.ksn)
    assert session.pin_key() == dukpt.pin_variant(key)
    assert "key" not in repr(session).lower() or "ksn" in repr(session).lower()

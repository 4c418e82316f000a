"""emv.recording: the JSON form round-trips; the replay transport notices divergence."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emv.callbacks import OnlineResponse
from emv.context import TransactionInput
from emv.recording import (
    Recording,
    RecordingError,
    ReplayDivergence,
    ReplayTransport,
    from_dict,
    to_dict,
)
from tests.emv.sim_support import sim_config

txns = st.builds(
    TransactionInput,
    amount=st.integers(0, 999_999_999_999),
    date=st.dates(dt.date(2000, 1, 1), dt.date(2049, 12, 31)),
    time=st.times().map(lambda t: t.replace(microsecond=0)),
    unpredictable_number=st.binary(min_size=4, max_size=4),
    random_selection=st.integers(1, 99),
    amount_other=st.integers(0, 10**9),
    transaction_type=st.sampled_from([0x00, 0x01, 0x09, 0x20]),
)
onlines = st.one_of(
    st.none(),
    st.builds(
        OnlineResponse,
        approved=st.booleans(),
        response_code=st.sampled_from([b"00", b"05", b"Y3"]),
        issuer_authentication_data=st.binary(max_size=16),
        scripts=st.lists(st.binary(min_size=1, max_size=20), max_size=3).map(tuple),
        authorisation_code=st.sampled_from([b"", b"123456"]),
    ),
)


@given(
    txns,
    onlines,
    st.lists(
        st.tuples(st.binary(min_size=4, max_size=30), st.binary(min_size=2, max_size=30)),
        max_size=5,
    ),
)
def test_round_trip(
    txn: TransactionInput, online: OnlineResponse | None, exchanges: list[tuple[bytes, bytes]]
) -> None:
    recording = Recording(
        name="x",
        config=sim_config(),
        txn=txn,
        exchanges=tuple(exchanges),
        online=online,
        pin="1234",
        random=b"\x01\x02",
        choice=None,
        expected={"decision": "approved_online"},
    )
    assert from_dict(to_dict(recording)) == recording


def test_replay_transport_answers_in_order_and_flags_divergence() -> None:
    transport = ReplayTransport(((b"\x00\xa4", b"\x90\x00"), (b"\x80\xa8", b"\x69\x85")))
    assert transport.transmit(b"\x00\xa4") == b"\x90\x00"
    with pytest.raises(ReplayDivergence):
        transport.transmit(b"\x00\xb2")
    assert transport.divergence is not None and transport.divergence.index == 1


@pytest.mark.parametrize(
    "document", [{}, {"format": "posterm-emv-recording/1"}, [], {"format": "x"}]
)
def test_not_a_recording(document: object) -> None:
    with pytest.raises(RecordingError):
        from_dict(document)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text, day",
    [
        ("20301231", dt.date(2030, 12, 31)),
        ("301231", dt.date(2030, 12, 31)),
        ("2030-12-31", dt.date(2030, 12, 31)),
    ],
)
def test_ca_key_expiry_forms(text: str, day: dt.date) -> None:
    from emv.config import parse_expiry

    assert parse_expiry(text) == day


def test_ca_keys_from_rig_rows() -> None:
    from emv.config import ca_keys_from_rows

    (key,) = ca_keys_from_rows(
        [{"rid": "A000000003", "index": "F1", "modulus": "C0FFEE", "exponent": "03"}]
    )
    assert key.index == 0xF1 and key.modulus == b"\xc0\xff\xee" and key.expiry is None

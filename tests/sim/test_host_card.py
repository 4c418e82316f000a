"""sim.host against sim.card: cryptograms a virtual card really computed (sim.card, via
pyemv primitives) are verified by the host, and the host's ARPC and issuer scripts are
accepted by the card (EXTERNAL AUTHENTICATE, script MACs, second GENERATE AC).

Two independent code paths meet here: the card's cryptogram.py and the host's
emvauth.py; one CVN of each family is covered (Visa CVN 10, Visa CVN 18, M/Chip CVN 16).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyemv import tlv as pyemv_tlv

from sim.card import VirtualCard, load_profile
from sim.card.dol import parse_dol
from sim.host import HostSimulator, load_rules
from tests.sim.test_host_client import TEST_BDK, Client

EXAMPLE = Path(__file__).resolve().parents[2] / "sim" / "host" / "rules-example.toml"
HOST_TAGS = (
    "9F26",
    "9F27",
    "9F10",
    "9F37",
    "9F36",
    "95",
    "9A",
    "9C",
    "9F02",
    "5F2A",
    "82",
    "9F1A",
    "9F03",
)
TERMINAL = {
    "9F02": bytes.fromhex("000000002500"),
    "9F03": bytes(6),
    "9F1A": bytes.fromhex("0826"),
    "95": bytes(5),
    "5F2A": bytes.fromhex("0978"),
    "9A": bytes.fromhex("261125"),
    "9C": b"\x00",
    "9F37": bytes.fromhex("1A2B3C4D"),
    "9F35": b"\x22",
    "9F34": bytes.fromhex("1F0302"),
}


def _dol_data(dol: bytes, values: dict[str, bytes]) -> bytes:
    return b"".join(
        values.get(tag, bytes(length)).rjust(length, b"\x00")[-length:]
        for tag, length in parse_dol(dol)
    )


def _apdu(card: VirtualCard, hex_header: str, data: bytes = b"") -> bytes:
    body = bytes([len(data)]) + data if data else b""
    response = card.transmit(bytes.fromhex(hex_header) + body + b"\x00")
    return response


def _arqc(card: VirtualCard) -> dict[str, bytes]:
    app = card.profile.applications[0]
    assert _apdu(card, "00A40400", app.aid)[-2:] == b"\x90\x00"
    pdol = _dol_data(app.pdol, TERMINAL) if app.pdol else b""
    assert _apdu(card, "80A80000", b"\x83" + bytes([len(pdol)]) + pdol)[-2:] == b"\x90\x00"
    resp = _apdu(card, "80AE8000", _dol_data(app.cdol1, TERMINAL))
    assert resp[-2:] == b"\x90\x00"
    data = dict(card.last_arqc_data)
    data["9F27"] = b"\x80"
    return data


@pytest.fixture
def host(tmp_path):  # type: ignore[no-untyped-def]
    with HostSimulator(load_rules(EXAMPLE), tmp_path / "ledger.db", TEST_BDK) as sim:
        yield sim


@pytest.mark.parametrize("profile", ["chip-swiped", "visa-cda", "mc-dda"])
def test_card_arqc_host_arpc_and_scripts(host: HostSimulator, profile: str) -> None:
    card = VirtualCard(load_profile(profile), rng=lambda n: bytes(n))
    app = card.profile.applications[0]
    pan = app.data["5A"].hex().upper().rstrip("F") if "5A" in app.data else card.profile.pan
    icc = _arqc(card)
    host.scripts.next(["put_data:9F4F:0102", "application_block"], tag=0x72, pan_prefix=pan[:6])
    client = Client(host.port).connect()
    try:
        fields = client.base("0200", **{"2": pan, "3": "000000", "4": "000000002500", "22": "051"})
        fields["23"] = app.data.get("5F34", b"\x00").hex().zfill(3)
        fields["55"] = pyemv_tlv.encode({t: icc[t] for t in HOST_TAGS if t in icc}).hex().upper()
        resp = client.exchange(fields)
    finally:
        client.close()
    assert resp.rc == "00" and resp.mac_ok
    reply = pyemv_tlv.decode(bytes.fromhex(resp.fields["55"]), flatten=False)
    # EMV 4.4 Book 3, 6.5.4: the card accepts the host's ARPC
    assert _apdu(card, "00820000", reply["91"])[-2:] == b"\x90\x00"
    commands = [v for k, v in _walk(bytes.fromhex(resp.fields["55"])) if k == "86"]
    assert len(commands) == 2
    for command in commands:  # Book 2, 9.2: the card checks each script MAC
        assert card.transmit(command)[-2:] == b"\x90\x00"
    assert card.states[app.aid].blocked  # APPLICATION BLOCK took effect
    assert card.states[app.aid].data_updates.get("9F4F") == bytes.fromhex("0102")


def test_card_rejects_arpc_for_another_cryptogram(host: HostSimulator) -> None:
    """The host's 91 is bound to the ARQC: a card with a different ARQC refuses it."""
    card = VirtualCard(load_profile("visa-cda"), rng=lambda n: bytes(n))
    icc = _arqc(card)
    other = VirtualCard(load_profile("visa-cda"), rng=lambda n: bytes(n))
    terminal_un = dict(TERMINAL, **{"9F37": bytes.fromhex("99999999")})
    app = other.profile.applications[0]
    _apdu(other, "00A40400", app.aid)
    pdol = _dol_data(app.pdol, terminal_un) if app.pdol else b""
    _apdu(other, "80A80000", b"\x83" + bytes([len(pdol)]) + pdol)
    _apdu(other, "80AE8000", _dol_data(app.cdol1, terminal_un))
    client = Client(host.port).connect()
    try:
        fields = client.base(
            "0200", **{"2": "4761739001010010", "3": "000000", "4": "000000002500", "23": "001"}
        )
        fields["55"] = pyemv_tlv.encode({t: icc[t] for t in HOST_TAGS if t in icc}).hex().upper()
        resp = client.exchange(fields)
    finally:
        client.close()
    assert resp.rc == "00"
    arpc = pyemv_tlv.decode(bytes.fromhex(resp.fields["55"]))["91"]
    assert _apdu(other, "00820000", arpc)[-2:] != b"\x90\x00"
    # the right card takes the ARPC in the second GENERATE AC (CDOL2 91) and gives a TC
    app = card.profile.applications[0]
    second = _apdu(
        card, "80AE4000", _dol_data(app.cdol2, dict(TERMINAL, **{"8A": b"00", "91": arpc}))
    )
    assert second[-2:] == b"\x90\x00"
    body = pyemv_tlv.decode(second[:-2], flatten=True)
    cid = body["80"][:1] if "80" in body else body["9F27"]  # GENERATE AC format 1 or 2
    assert cid == b"\x40"  # TC: issuer authentication passed


def _walk(data: bytes) -> list[tuple[str, bytes]]:
    """(tag, value) of every TLV, constructed ones opened (71/72 templates)."""
    out: list[tuple[str, bytes]] = []
    pos = 0
    while pos < len(data):
        tag_len = 2 if data[pos] & 0x1F == 0x1F else 1
        tag = data[pos : pos + tag_len].hex().upper()
        pos += tag_len
        size = data[pos]
        pos += 1
        if size == 0x81:
            size = data[pos]
            pos += 1
        value = data[pos : pos + size]
        pos += size
        out.append((tag, value))
        if tag in ("71", "72"):
            out.extend(_walk(value))
    return out

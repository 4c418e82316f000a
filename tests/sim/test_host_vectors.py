"""The host's PIN, MAC and ARQC checks against published vectors.

Sources:
- ANSI X9.24-1:2009 Annex A.4 (TDES DUKPT test data): BDK 0123456789ABCDEFFEDCBA9876543210,
  initial KSN FFFF9876543210E00000, PIN 1234, PAN 4012345678909; encrypted PIN blocks and
  request/response MACs of "4012345678909D987" for counters 1-5 (as reproduced in
  moov-io/dukpt, des/des_test.go "A.4.2 Initial Sequence").
- ISO/IEC 9797-1 MAC algorithm 3 with padding method 1 is the MAC those X9.24 values use.
- pyemv 1.5 documentation, pyemv/cvn.py module docstring: Visa CVN 18 example with
  issuer keys AA../BB../CC.., PAN 1234567890123456, PSN 00, ARQC 769577B5ABE9FE62 and
  ARPC 76503F48 for CSU 00000000.
"""

from __future__ import annotations

import pytest

from sim.host import emvauth, security

BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
X924_PAN = "4012345678909"
X924_MAC_DATA = b"4012345678909D987"
# (KSN counter, encrypted PIN block, request MAC, response MAC) - X9.24-1:2009 A.4.2
X924_ROWS = [
    (1, "1B9C1845EB993A7A", "9CCC78173FC4FB64", "20364223C1FF00FA"),
    (2, "10A01C8D02C69107", "F608A9BCA6FFC311", "D1FCA6BEF05D24D2"),
    (3, "18DC07B94797B466", "20B59A4FEAC937E3", "BAD4CC9CC2AE326C"),
    (4, "0BC79509D5645DF7", "C7BFA6CC44161828", "1EB08AEECE6FF0C2"),
    (5, "5BC0AF22AD87B327", "0202B96339022058", "5CBE3E81D1D2A0FB"),
]


def _keys(counter: int) -> security.SessionKeys:
    host = security.DukptHost(BDK)
    return host.keys_for(bytes.fromhex(f"FFFF9876543210E{counter:05X}"))


@pytest.mark.parametrize(("counter", "pin_block", "req_mac", "resp_mac"), X924_ROWS)
def test_host_decrypts_x924_pin_blocks(
    counter: int, pin_block: str, req_mac: str, resp_mac: str
) -> None:
    """X9.24-1:2009 A.4.2: each encrypted PIN block decodes to PIN 1234."""
    assert security.decrypt_pin(_keys(counter), bytes.fromhex(pin_block), X924_PAN) == "1234"


@pytest.mark.parametrize(("counter", "pin_block", "req_mac", "resp_mac"), X924_ROWS)
def test_host_macs_match_x924(counter: int, pin_block: str, req_mac: str, resp_mac: str) -> None:
    """X9.24-1:2009 A.4.2: request MAC under the MAC-request variant, response MAC under
    the MAC-response variant (ISO 9797-1 alg. 3, padding 1)."""
    keys = _keys(counter)
    assert security.mac_ok(keys.mac_request, X924_MAC_DATA, bytes.fromhex(req_mac))
    assert security.retail_mac(keys.mac_response, X924_MAC_DATA).hex().upper() == resp_mac
    # and a MAC under the wrong variant is refused
    assert not security.mac_ok(keys.mac_response, X924_MAC_DATA, bytes.fromhex(req_mac))


def test_wrong_pin_block_is_not_1234() -> None:
    """A block from counter 2 under counter 1's key does not give the PIN back."""
    assert security.decrypt_pin(_keys(1), bytes.fromhex(X924_ROWS[1][1]), X924_PAN) != "1234"


PYEMV_ISSUER = emvauth.IssuerKeys(
    mk_ac=bytes.fromhex("AA" * 16),
    mk_smi=bytes.fromhex("BB" * 16),
    mk_smc=bytes.fromhex("CC" * 16),
    cvn="visa18",
)
PYEMV_ICC = {
    "9F02": bytes.fromhex("000000009999"),
    "9F03": bytes.fromhex("000000000000"),
    "9F1A": bytes.fromhex("0840"),
    "95": bytes.fromhex("8000048000"),
    "5F2A": bytes.fromhex("0840"),
    "9A": bytes.fromhex("991231"),
    "9C": bytes.fromhex("01"),
    "9F37": bytes.fromhex("52BF4585"),
    "82": bytes.fromhex("1800"),
    "9F36": bytes.fromhex("0FFF"),
    "9F10": bytes.fromhex("06011203A0B800"),
    "9F26": bytes.fromhex("769577B5ABE9FE62"),
    "9F27": bytes.fromhex("80"),
}


def test_arqc_published_cvn18_example_verifies() -> None:
    """pyemv/cvn.py docstring: ARQC 769577B5ABE9FE62 for the example data."""
    auth = emvauth.verify_arqc(PYEMV_ISSUER, "1234567890123456", "00", PYEMV_ICC)
    assert auth.arqc_ok is True and auth.cvn == "visa18" and auth.cryptogram_type == 0x80


def test_arqc_auto_detects_cvn18_from_iad() -> None:
    auto = emvauth.IssuerKeys(PYEMV_ISSUER.mk_ac, PYEMV_ISSUER.mk_smi, PYEMV_ISSUER.mk_smc, "auto")
    assert emvauth.verify_arqc(auto, "1234567890123456", "00", PYEMV_ICC).arqc_ok is True


@pytest.mark.parametrize("tag", ["9F02", "9F37", "9F36", "95", "9F26"])
def test_arqc_fails_when_any_input_changes(tag: str) -> None:
    icc = dict(PYEMV_ICC)
    icc[tag] = bytes([icc[tag][0] ^ 0x01]) + icc[tag][1:]
    assert emvauth.verify_arqc(PYEMV_ISSUER, "1234567890123456", "00", icc).arqc_ok is False


def test_arpc_published_cvn18_example() -> None:
    """pyemv/cvn.py docstring: ARPC 76503F48 for CSU 00000000 (our CSU for a decline)."""
    data = emvauth.issuer_auth_data(
        PYEMV_ISSUER, "visa18", "1234567890123456", "00", PYEMV_ICC, "05"
    )
    assert data.hex().upper() == "76503F48" + "00000000"


def test_no_issuer_keys_means_unverified_not_failed() -> None:
    auth = emvauth.verify_arqc(None, "1234567890123456", "00", PYEMV_ICC)
    assert auth.arqc_ok is None

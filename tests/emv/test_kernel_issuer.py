"""Online leg against real cryptography: the simulator's issuer (sim.host.emvauth,
pyemv) checks the kernel's ARQC from DE 55, answers with an ARPC (tag 91) and MACed
issuer scripts, and the virtual card checks both. Proves the DE 55 and CDOL data the
kernel sends are the ones the card's cryptogram covers."""

from __future__ import annotations

import pytest

import sim.card as sim_card
from emv.bits import TSI, TVR
from emv.callbacks import OnlineRequest, OnlineResponse
from emv.kernel import run_transaction
from emv.outcome import Decision
from sim.host import emvauth
from tests.emv.scripted import txn
from tests.emv.sim_support import PinCallbacks, sim_config


class Issuer(PinCallbacks):
    """Verifies the ARQC, answers with ARPC and scripts like an issuer host would."""

    def __init__(
        self, profile: str, approve: bool = True, scripts: tuple[tuple[int, str], ...] = ()
    ) -> None:
        super().__init__()
        app = sim_card.load_profile(profile).applications[0]
        self.app = app
        self.keys = emvauth.IssuerKeys(app.issuer_keys.ac, app.issuer_keys.smi, app.issuer_keys.smc)
        self.approve = approve
        self.scripts = scripts
        self.arqc_ok: bool | None = None

    def go_online(self, request: OnlineRequest) -> OnlineResponse | None:
        self.requests.append(request)
        icc = {f"{tag:X}": value for tag, value in request.de55.items()}
        auth = emvauth.verify_arqc(self.keys, self.app.pan, self.app.psn, icc)
        self.arqc_ok = auth.arqc_ok
        code = "00" if self.approve and auth.arqc_ok else "05"
        assert auth.cvn is not None
        arpc = emvauth.issuer_auth_data(self.keys, auth.cvn, self.app.pan, self.app.psn, icc, code)
        templates = tuple(
            emvauth.script_template(
                tag,
                number,
                [
                    emvauth.script_command(
                        self.keys, auth.cvn, self.app.pan, self.app.psn, icc, command
                    )
                ],
            )
            for number, (tag, command) in enumerate(self.scripts, start=1)
        )
        return OnlineResponse(code == "00", code.encode(), arpc, templates)


@pytest.mark.parametrize("profile", ["visa-online-pin", "mc-dda", "visa-cda"])
def test_arqc_verifies_and_arpc_is_accepted(profile: str) -> None:
    issuer = Issuer(profile)
    card = sim_card.VirtualCard(sim_card.load_profile(profile))
    result = run_transaction(card, sim_config(), issuer, txn())
    assert issuer.arqc_ok is True  # the issuer recomputed the kernel's ARQC from DE 55
    assert result.decision is Decision.APPROVED_ONLINE
    tvr = TVR.from_bytes(result.tvr)
    assert TVR.ISSUER_AUTHENTICATION_FAILED not in tvr


def test_wrong_arpc_sets_issuer_authentication_failed() -> None:
    issuer = Issuer("visa-online-pin")
    original = issuer.go_online

    def tampered(request: OnlineRequest) -> OnlineResponse | None:
        response = original(request)
        assert response is not None
        data = (
            bytes([response.issuer_authentication_data[0] ^ 0xFF])
            + response.issuer_authentication_data[1:]
        )
        return OnlineResponse(response.approved, response.response_code, data, response.scripts)

    issuer.go_online = tampered  # type: ignore[method-assign]
    card = sim_card.VirtualCard(sim_card.load_profile("visa-online-pin"))
    result = run_transaction(card, sim_config(), issuer, txn())
    assert TVR.ISSUER_AUTHENTICATION_FAILED in TVR.from_bytes(result.tvr)
    assert TSI.ISSUER_AUTHENTICATION_PERFORMED in TSI.from_bytes(result.tsi)
    # the card itself then refuses the TC: declined although the host approved
    assert result.decision is Decision.DECLINED_ONLINE


def test_issuer_scripts_reach_the_card_with_results() -> None:
    issuer = Issuer("visa-online-pin", scripts=((0x72, "put_data:9F4F:9F02065F2A029A039C01"),))
    card = sim_card.VirtualCard(sim_card.load_profile("visa-online-pin"))
    result = run_transaction(card, sim_config(), issuer, txn())
    assert result.decision is Decision.APPROVED_ONLINE
    assert TSI.SCRIPT_PROCESSING_PERFORMED in TSI.from_bytes(result.tsi)
    results = result.de55_tags[0x9F5B]
    assert results[0] >> 4 == 0x2, results.hex()  # script processing successful
    assert TVR.SCRIPT_FAILED_AFTER_FINAL_GENERATE_AC not in TVR.from_bytes(result.tvr)

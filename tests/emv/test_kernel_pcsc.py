"""The same end-to-end transaction through pyscard -> pcscd -> vpcd -> virtual card.

The kernel talks to hal.pcsc's PcscCardSession (pyscard's scard API, T=0 61xx/6Cxx
in the transport), the card is sim.card's visa-cda profile behind vsmartcard's vpcd.
"""

from __future__ import annotations

import pytest

import sim.card as sim_card
from emv.bits import TVR
from emv.kernel import run_transaction
from emv.outcome import Decision
from hal.pcsc import PcscReader
from sim.vpicc import VpiccConnection
from tests.emv.scripted import txn
from tests.emv.sim_support import PinCallbacks, sim_config

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]


@pytest.mark.parametrize("profile", ["visa-cda", "visa-offline-pin"])
def test_kernel_over_real_pcsc(pcscd: str, profile: str) -> None:
    card = sim_card.VirtualCard(sim_card.load_profile(profile))
    link = VpiccConnection(card).serve_in_thread()
    reader = PcscReader(pcscd)
    try:
        assert reader.wait_for_card(5.0)
        session = reader.power_on()
        result = run_transaction(session, sim_config(), PinCallbacks(), txn())
    finally:
        reader.power_off()
        link.stop()
    assert link.error is None
    assert result.decision in (Decision.APPROVED_ONLINE, Decision.APPROVED_OFFLINE)
    assert TVR.CDA_FAILED not in TVR.from_bytes(result.tvr)
    # the same transaction in process gives the same TVR and decision
    again = run_transaction(
        sim_card.VirtualCard(sim_card.load_profile(profile)), sim_config(), PinCallbacks(), txn()
    )
    assert (again.decision, again.tvr, again.tsi, again.cvm_results) == (
        result.decision,
        result.tvr,
        result.tsi,
        result.cvm_results,
    )

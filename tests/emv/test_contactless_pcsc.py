"""Contactless Entry Point + Kernels 2 and 3 through pyscard -> pcscd -> vpcd -> sim card
(hal.pcsc's reader gives the transport, as a PC/SC contactless reader would)."""

from __future__ import annotations

import pytest

import sim.card as sim_card
from emv.contactless import Cvm, OutcomeKind, run_contactless
from emv.outcome import Decision
from hal.pcsc import PcscReader
from sim.vpicc import VpiccConnection
from tests.emv.contactless_support import TTQ_ODA_ONLINE, ClCallbacks, cl_config, txn

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]


@pytest.mark.parametrize(
    ("profile", "amount", "cvm"),
    [("visa-qvsdc", 6000, Cvm.ONLINE_PIN), ("mc-contactless", 1000, Cvm.NO_CVM)],
)
def test_contactless_over_real_pcsc(pcscd: str, profile: str, amount: int, cvm: Cvm) -> None:
    card = sim_card.VirtualCard(sim_card.load_profile(profile))
    link = VpiccConnection(card).serve_in_thread()
    reader = PcscReader(pcscd)
    callbacks = ClCallbacks()
    try:
        assert reader.wait_for_card(5.0)
        session = reader.power_on()
        result = run_contactless(session, cl_config(ttq=TTQ_ODA_ONLINE), callbacks, txn(amount))
    finally:
        reader.power_off()
        link.stop()
    assert link.error is None
    assert result.outcome.outcome is OutcomeKind.ONLINE_REQUEST, result.detail
    assert result.decision is Decision.APPROVED_ONLINE
    assert result.outcome.cvm is cvm
    assert len(callbacks.requests) == 1 and result.cryptogram
    # the same transaction in process ends the same way
    again = run_contactless(
        sim_card.VirtualCard(sim_card.load_profile(profile)),
        cl_config(ttq=TTQ_ODA_ONLINE),
        ClCallbacks(),
        txn(amount),
    )
    assert (again.decision, again.tvr, again.tsi, again.cvm_results) == (
        result.decision,
        result.tvr,
        result.tsi,
        result.cvm_results,
    )

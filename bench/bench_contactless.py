"""Issue 8 (entry by contactless): terminal-side CPU time of one contactless tap.

Two transactions through emv.contactless (Entry Point + kernel), card and host time
excluded by replaying the card's recorded answers (as bench_kernel does):

- Kernel 3 qVSDC (sim ``visa-qvsdc``): PPSE, ARQC in GPO, records, fDDA checked
  (TTQ 'ODA for online authorisations'), online PIN over the CVM limit, host approves;
- Kernel 2 M/Chip (sim ``mc-contactless``): PPSE, GPO, records, CDA keys, CVM list,
  TAA, GENERATE AC with CDA verified, host approves.

No issue target; EMV Contactless Book A asks the whole tap to fit in about 500 ms,
so the kernel's share should be a small fraction of that.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
import tomllib
from pathlib import Path

from bench.common import RecordingTransport, ReplayTransport, Result, fmt_time
from emv.callbacks import (
    DefaultCallbacks,
    OnlineRequest,
    OnlineResponse,
    PinEntry,
    PinRequest,
    PinStatus,
)
from emv.config import AidEntry, KernelConfig, ca_keys_from_rows
from emv.contactless import Combination, ContactlessConfig, OutcomeKind, run_contactless
from emv.context import TransactionInput
from emv.outcome import Decision

ROOT = Path(__file__).resolve().parents[1]
CASES = (("visa-qvsdc", 3, "A0000000031010"), ("mc-contactless", 2, "A0000000041010"))
TXN = TransactionInput(
    amount=6000,
    date=dt.date(2026, 11, 25),
    time=dt.time(10, 0),
    unpredictable_number=bytes.fromhex("0BADF00D"),
)


def _config() -> ContactlessConfig:
    rows = tomllib.loads((ROOT / "sim/ca/ca_public_keys.toml").read_text())["ca_keys"]
    aids = tuple(
        AidEntry(
            bytes.fromhex(aid),
            application_version=b"\x00\x02",
            tac_denial=bytes.fromhex("0010000000"),
            tac_online=bytes.fromhex("DC4004F800"),
            tac_default=bytes.fromhex("DC4000A800"),
        )
        for _, _, aid in CASES
    )
    kernel = KernelConfig(aids=aids, ca_keys=ca_keys_from_rows(rows))
    combos = tuple(
        Combination(bytes.fromhex(aid), kernel_id, 10000, 0, 5000) for _, kernel_id, aid in CASES
    )
    return ContactlessConfig(kernel=kernel, combinations=combos, ttq=bytes.fromhex("27004080"))


class _Callbacks(DefaultCallbacks):
    def enter_pin(self, request: PinRequest) -> PinEntry:
        return PinEntry(PinStatus.ENTERED, online_block=bytes(8), ksn=bytes(10))

    def go_online(self, request: OnlineRequest) -> OnlineResponse | None:
        return OnlineResponse(True, b"00")


def _case(profile: str, config: ContactlessConfig, repeat: int) -> Result:
    from sim.card import VirtualCard, load_profile

    callbacks = _Callbacks()
    recorder = RecordingTransport(VirtualCard(load_profile(profile)))
    first = run_contactless(recorder, config, callbacks, TXN)
    if first.outcome.outcome is not OutcomeKind.ONLINE_REQUEST or not first.approved:
        raise RuntimeError(f"benchmark tap did not go online: {first.outcome}")
    samples = []
    for index in range(repeat + 10):
        transport = ReplayTransport(recorder.exchanges)
        start = time.process_time()
        result = run_contactless(transport, config, callbacks, TXN)
        if index >= 10:
            samples.append(time.process_time() - start)
        assert result.decision is Decision.APPROVED_ONLINE
    median = statistics.median(samples)
    p90 = sorted(samples)[int(len(samples) * 0.9)]
    return Result(
        issue=8,
        name=f"contactless tap, kernel {first.kernel_id} ({profile}), terminal CPU",
        measured=f"{fmt_time(median)} median (p90 {fmt_time(p90)})",
        target="none set (Book A: whole tap ~500 ms)",
        met=None,
        note=f"{len(recorder.exchanges)} APDUs replayed, {first.outcome.cvm.value}, {repeat} runs",
    )


def run(quick: bool) -> list[Result]:
    config = _config()
    repeat = 40 if quick else 300
    return [_case(profile, config, repeat) for profile, _, _ in CASES]

"""Build posterm certify's built-in suite: recordings of sim.card TEST ONLY profiles.

``.venv/bin/python -m tests.emv.make_suite terminal/data/certify`` runs each case
against the live virtual card, checks the decision the case is written for, and
writes one emv.recording JSON document per case. The suite is data; this script
is how it is (re)made when the kernel or a profile changes on purpose.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import sim.card as sim_card
from emv.callbacks import OnlineRequest, OnlineResponse, PinEntry, PinKind, PinRequest, PinStatus
from emv.context import TransactionContext
from emv.kernel import run_context
from emv.outcome import Decision
from emv.recording import Recording, result_summary, to_dict
from tests.emv.scripted import APPROVED, RecordingCallbacks, txn
from tests.emv.sim_support import TestPin, sim_config


class Capture:
    def __init__(self, card: object) -> None:
        self.card = card
        self.exchanges: list[tuple[bytes, bytes]] = []

    def transmit(self, apdu: bytes) -> bytes:
        response: bytes = self.card.transmit(apdu)  # type: ignore[attr-defined]
        self.exchanges.append((bytes(apdu), bytes(response)))
        return response


class CaseCallbacks(RecordingCallbacks):
    def __init__(
        self, pin: str, online: OnlineResponse | None, choice: int | None, encipher: bool
    ) -> None:
        super().__init__(online, choice=choice)
        self.pin = pin
        self.encipher = encipher
        self.random = bytearray()
        self.pin_asked = False

    def enter_pin(self, request: PinRequest) -> PinEntry:
        self.pin_asked = True
        if not self.pin:
            return PinEntry(PinStatus.PINPAD_FAULT)
        if request.kind is PinKind.ONLINE:
            return PinEntry(PinStatus.ENTERED, online_block=bytes(8))
        return PinEntry(PinStatus.ENTERED, offline=TestPin(self.pin))

    def go_online(self, request: OnlineRequest) -> OnlineResponse | None:
        return super().go_online(request)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        # random_bytes exists only for cases that exercise offline enciphered PIN
        if name == "random_bytes" and self.__dict__.get("encipher"):
            return self._random_bytes
        raise AttributeError(name)

    def _random_bytes(self, length: int) -> bytes:
        chunk = bytes((0xA5 ^ i) & 0xFF for i in range(length))
        self.random += chunk
        return chunk


@dataclass(frozen=True)
class Case:
    name: str
    profile: str
    description: str
    decision: Decision
    pin: str = ""
    online: OnlineResponse | None = APPROVED
    choice: int | None = 0
    encipher: bool = False
    amount: int = 1500


DECLINE = OnlineResponse(False, b"05")
CASES = (
    Case(
        "cda-online-pin",
        "visa-cda",
        "CDA on both GENERATE ACs, online PIN, host approves",
        Decision.APPROVED_ONLINE,
        pin="1234",
    ),
    Case(
        "cda-enciphered-pin",
        "visa-cda",
        "CDA, offline enciphered PIN under the PIN key",
        Decision.APPROVED_OFFLINE,
        pin="1234",
        encipher=True,
    ),
    Case(
        "cda-host-declines",
        "visa-cda",
        "CDA, online PIN, host declines (05)",
        Decision.DECLINED_ONLINE,
        pin="1234",
        online=DECLINE,
    ),
    Case(
        "cda-unable-online",
        "visa-cda",
        "CDA, host unreachable: default action analysis approves (Y3)",
        Decision.APPROVED_OFFLINE,
        pin="1234",
        online=None,
    ),
    Case(
        "enc-pin-icc-key",
        "mc-enc-pin",
        "offline enciphered PIN under the ICC key",
        Decision.APPROVED_OFFLINE,
        pin="4321",
        encipher=True,
    ),
    Case(
        "plaintext-pin",
        "visa-offline-pin",
        "offline plaintext PIN",
        Decision.APPROVED_OFFLINE,
        pin="1234",
    ),
    Case("online-pin", "visa-online-pin", "online PIN", Decision.APPROVED_ONLINE, pin="1234"),
    Case("sda", "visa-sda", "SDA", Decision.APPROVED_OFFLINE),
    Case(
        "sda-failed",
        "visa-bad-sda",
        "SDA signature broken: SDA failed, online",
        Decision.APPROVED_ONLINE,
    ),
    Case(
        "dda-online",
        "mc-dda",
        "DDA with INTERNAL AUTHENTICATE, online PIN",
        Decision.APPROVED_ONLINE,
        pin="1234",
    ),
    Case(
        "revoked-issuer-cert",
        "visa-revoked-cert",
        "issuer certificate on the revocation list",
        Decision.APPROVED_ONLINE,
    ),
    Case("expired", "visa-expired", "expired application goes online", Decision.APPROVED_ONLINE),
    Case(
        "not-effective",
        "visa-not-effective",
        "application not yet effective",
        Decision.APPROVED_OFFLINE,
    ),
    Case("app-blocked", "visa-blocked", "only application blocked (6283)", Decision.TERMINATED),
    Case(
        "pin-blocked",
        "visa-pin-blocked",
        "PIN try limit exceeded",
        Decision.APPROVED_ONLINE,
        pin="1234",
    ),
    Case(
        "multi-app-second",
        "multi-app",
        "two applications, cardholder picks the second",
        Decision.APPROVED_OFFLINE,
        choice=1,
    ),
    Case("signature", "visa-signature", "signature CVM", Decision.APPROVED_OFFLINE),
    Case("no-cvm", "visa-no-cvm", "no CVM required", Decision.APPROVED_OFFLINE),
    Case(
        "domestic",
        "visa-domestic",
        "domestic-only card at a domestic terminal",
        Decision.APPROVED_OFFLINE,
    ),
    Case("contactless-only", "visa-qvsdc", "no contact application in common", Decision.TERMINATED),
)


def record(case: Case) -> Recording:
    config = sim_config()
    transaction = txn(amount=case.amount)
    capture = Capture(sim_card.VirtualCard(sim_card.load_profile(case.profile)))
    callbacks = CaseCallbacks(case.pin, case.online, case.choice, case.encipher)
    ctx = TransactionContext.new(config, transaction)
    result = run_context(ctx, capture, callbacks)
    if result.decision is not case.decision:
        got = f"{result.decision.value} ({result.detail})"
        raise SystemExit(f"{case.name}: expected {case.decision.value}, got {got}")
    return Recording(
        name=case.name,
        description=f"{case.description} (sim profile {case.profile}, TEST ONLY)",
        config=config,
        txn=transaction,
        exchanges=tuple(capture.exchanges),
        online=case.online,
        pin=case.pin if callbacks.pin_asked else "",
        random=bytes(callbacks.random),
        choice=case.choice,
        expected=result_summary(result),
    )


def write_suite(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for number, case in enumerate(CASES, start=1):
        path = out / f"{number:02d}-{case.name}.json"
        path.write_text(json.dumps(to_dict(record(case)), indent=1) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_suite(Path(sys.argv[1] if len(sys.argv) > 1 else "terminal/data/certify")):
        print(path)

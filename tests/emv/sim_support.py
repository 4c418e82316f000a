"""Kernel configuration and callbacks for running against sim.card profiles."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from emv.callbacks import OnlineResponse, PinEntry, PinKind, PinRequest, PinStatus
from emv.config import CaPublicKey, KernelConfig, RevokedCertificate, ca_keys_from_rows
from tests.emv.scripted import APPROVED, RecordingCallbacks, config

ROOT = Path(__file__).resolve().parents[2]
RIG_AIDS = (
    "A0000000031010",
    "A0000000032010",
    "A0000000041010",
    "A0000000043060",
    "A000000025010801",
    "A0000003330101",
)


def sim_ca_keys() -> tuple[tuple[CaPublicKey, ...], frozenset[RevokedCertificate]]:
    data = tomllib.loads((ROOT / "sim/ca/ca_public_keys.toml").read_text())
    keys = ca_keys_from_rows(data["ca_keys"])
    revoked = frozenset(
        RevokedCertificate(
            bytes.fromhex(item["rid"]), int(item["index"], 16), bytes.fromhex(item["serial"])
        )
        for item in data.get("revocations", [])
    )
    return keys, revoked


def sim_config(**overrides: object) -> KernelConfig:
    keys, revoked = sim_ca_keys()
    base = config()
    template = base.aids[0]
    aids = tuple(
        dataclasses.replace(template, aid=bytes.fromhex(aid), application_version=b"\x00\x96")
        for aid in RIG_AIDS
    )
    cfg = dataclasses.replace(base, aids=aids, ca_keys=keys, revoked=revoked)
    return dataclasses.replace(cfg, **overrides) if overrides else cfg


class TestPin:
    """A test-only OfflinePin: builds the ISO 9564 format 2 block from digits."""

    __test__ = False

    def __init__(self, digits: str) -> None:
        self._digits = digits

    def offline_pin_block(self) -> bytes:
        text = f"2{len(self._digits):X}{self._digits}".ljust(16, "F")
        return bytes.fromhex(text)

    def wipe(self) -> None:
        self._digits = ""


class PinCallbacks(RecordingCallbacks):
    """Types a PIN for offline kinds and returns a fixed enciphered block for online PIN."""

    def __init__(
        self, pin: str = "1234", online: OnlineResponse | None = APPROVED, **kwargs: object
    ) -> None:
        super().__init__(online, **kwargs)  # type: ignore[arg-type]
        self.pin = pin

    def enter_pin(self, request: PinRequest) -> PinEntry:
        self.pins.append(request)
        if request.kind is PinKind.ONLINE:
            return PinEntry(
                PinStatus.ENTERED, online_block=bytes.fromhex("0123456789ABCDEF"), ksn=bytes(10)
            )
        return PinEntry(PinStatus.ENTERED, offline=TestPin(self.pin))


class EncipheringPinCallbacks(PinCallbacks):
    """Also supplies the random padding offline enciphered PIN needs (Book 2, 7.2)."""

    def random_bytes(self, length: int) -> bytes:
        return bytes((0x5A,)) * length

"""A PN532 on the far side of a pty: answers HSU frames like the chip (UM0701-02),
with ISO-DEP cards in its field and switchable faults."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import serial

ACK = b"\x00\x00\xff\x00\xff\x00"
NACK = b"\x00\x00\xff\xff\x00\x00"


def frame(body: bytes) -> bytes:
    """Written independently of hal.pn532.encode_frame (normal frames only)."""
    length = len(body)
    return (
        bytes([0, 0, 0xFF, length, (0x100 - length) & 0xFF])
        + body
        + bytes([(0x100 - sum(body)) & 0xFF, 0])
    )


@dataclass
class SimTarget:
    uid: bytes
    handler: Callable[[bytes], bytes]
    sak: int = 0x20
    ats: bytes = bytes.fromhex("0578807002")


@dataclass
class Pn532DeviceSim:
    port: str
    targets: list[SimTarget] = field(default_factory=list)
    chunk: int = 60  # answers longer than this are chained with MI
    corrupt_responses: int = 0  # corrupt the DCS of this many next responses
    drop_acks: int = 0  # stay silent for this many next commands
    noise_before_ack: bytes = b""
    half_frame_next: bool = False
    commands: list[bytes] = field(default_factory=list)
    nacks: int = 0

    def __post_init__(self) -> None:
        self.serial = serial.Serial(self.port, 115200, timeout=0.01)
        self.buffer = bytearray()
        self.last = b""
        self.active: SimTarget | None = None
        self.pending = b""
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                data = self.serial.read(512)
            except (serial.SerialException, OSError):
                return
            if data:
                self.buffer += data
                self.parse()

    def parse(self) -> None:
        buf = self.buffer
        while True:
            start = buf.find(b"\x00\xff")
            if start < 0 or len(buf) < start + 4:
                return
            del buf[:start]
            length, lcs = buf[2], buf[3]
            if (length, lcs) == (0xFF, 0x00):  # NACK: resend the last response
                del buf[:4]
                self.nacks += 1
                self.serial.write(self.last)
                continue
            if (length, lcs) == (0x00, 0xFF):
                del buf[:4]
                continue
            if (length + lcs) & 0xFF:
                del buf[:2]
                continue
            if len(buf) < 4 + length + 1:
                return
            body = bytes(buf[4 : 4 + length])
            dcs = buf[4 + length]
            del buf[: 4 + length + 1]
            if (sum(body) + dcs) & 0xFF or body[0] != 0xD4:
                continue  # the chip ignores a corrupt frame
            self.handle(body[1], body[2:])

    def handle(self, code: int, data: bytes) -> None:
        self.commands.append(bytes([code]) + data)
        if self.drop_acks:
            self.drop_acks -= 1
            return
        self.serial.write(self.noise_before_ack + ACK)
        answer = self.answer(code, data)
        out = frame(bytes([0xD5, code + 1]) + answer)
        self.last = out
        if self.half_frame_next:
            self.half_frame_next = False
            self.serial.write(out[: len(out) // 2])
            return
        if self.corrupt_responses:
            self.corrupt_responses -= 1
            out = out[:-2] + bytes([out[-2] ^ 0x01]) + out[-1:]
        self.serial.write(out)

    def answer(self, code: int, data: bytes) -> bytes:
        if code == 0x02:
            return bytes.fromhex("32010607")
        if code == 0x14:
            return b""
        if code == 0x4A:
            found = self.targets[: data[0]]
            out = bytearray([len(found)])
            for number, target in enumerate(found, start=1):
                out += (
                    bytes([number])
                    + b"\x00\x04"
                    + bytes([target.sak, len(target.uid)])
                    + target.uid
                )
                if target.sak & 0x20:
                    out += target.ats
            self.active = found[0] if len(found) == 1 else None
            return bytes(out)
        if code == 0x40:
            if self.active is None or self.active not in self.targets:
                return b"\x01"  # time-out: no target answered
            # one byte (Tg only) continues a chained answer
            reply = self.pending if len(data) == 1 else self.active.handler(data[1:])
            part, self.pending = reply[: self.chunk], reply[self.chunk :]
            return (b"\x40" if self.pending else b"\x00") + part
        if code == 0x00 and data[:1] == b"\x06":
            return b"\x00" if self.active is not None and self.active in self.targets else b"\x01"
        if code == 0x52:
            self.active = None
            return b"\x00"
        return b"\x7f"

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=1)
        self.serial.close()

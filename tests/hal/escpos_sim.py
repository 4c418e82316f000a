"""An ESC/POS printer on the far side of a pty: parses what the driver sends and
answers DLE EOT real-time status like a thermal printer does."""

from __future__ import annotations

import threading

import serial

# ESC/POS commands with a fixed count of parameter bytes after the command bytes.
ESC_PARAMS = {
    b"!": 1,
    b"E": 1,
    b"-": 1,
    b"a": 1,
    b"t": 1,
    b"{": 1,
    b"M": 1,
    b"d": 1,
    b"@": 0,
    b"G": 1,
}
GS_PARAMS = {b"b": 1, b"B": 1, b"!": 1}


class EscposDeviceSim:
    def __init__(self, port: str) -> None:
        self.serial = serial.Serial(port, 9600, timeout=0.02)
        self.paper_out = False
        self.cover_open = False
        self.silent = False
        self.garbage = False
        self.lines: list[str] = []
        self.bold_lines: list[str] = []
        self.qr: list[bytes] = []
        self.cuts = 0
        self.unknown: list[bytes] = []
        self.aligned: dict[str, int] = {}  # line → ESC a value when printed
        self._align = 0
        self._bold = False
        self._text = bytearray()
        self._buffer = bytearray()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def status_byte(self, n: int) -> bytes:
        if self.silent:
            return b""
        if self.garbage:
            return b"\xff"
        value = 0x12
        if n == 1 and (self.cover_open or self.paper_out):
            value |= 0x08
        if n == 2:
            value |= (0x04 if self.cover_open else 0) | (0x20 if self.paper_out else 0)
        if n == 4 and self.paper_out:
            value |= 0x6C
        return bytes([value])

    def run(self) -> None:
        while not self._stop.is_set():
            data = self.serial.read(256)
            if data:
                self._buffer += data
                self.parse()

    def parse(self) -> None:
        buf = self._buffer
        while buf:
            b = buf[0]
            if b == 0x10:  # DLE EOT n
                if len(buf) < 3:
                    return
                self.serial.write(self.status_byte(buf[2]))
                del buf[:3]
            elif b == 0x1B:
                if len(buf) < 2:
                    return
                need = ESC_PARAMS.get(bytes(buf[1:2]))
                if need is None:
                    self.unknown.append(bytes(buf[:2]))
                    del buf[:2]
                    continue
                if len(buf) < 2 + need:
                    return
                if buf[1:2] == b"E":
                    self._bold = bool(buf[2])
                if buf[1:2] == b"a":
                    self._align = buf[2]
                del buf[: 2 + need]
            elif b == 0x1D:
                if len(buf) < 2:
                    return
                cmd = bytes(buf[1:2])
                if cmd == b"(":  # GS ( k pL pH cn fn data
                    if len(buf) < 5:
                        return
                    size = buf[3] | buf[4] << 8
                    if len(buf) < 5 + size:
                        return
                    body = bytes(buf[5 : 5 + size])
                    if body[:3] == b"1P0":
                        self.qr.append(body[3:])
                    del buf[: 5 + size]
                elif cmd == b"V":
                    if len(buf) < 3:
                        return
                    self.cuts += 1
                    del buf[: 3 + (1 if buf[2] in (65, 66) else 0)]
                elif cmd in GS_PARAMS:
                    if len(buf) < 3:
                        return
                    del buf[:3]
                else:
                    self.unknown.append(bytes(buf[:2]))
                    del buf[:2]
            elif b == 0x0A:
                line = self._text.decode("cp437")
                self.lines.append(line)
                self.aligned[line] = self._align
                if self._bold:
                    self.bold_lines.append(line)
                self._text.clear()
                del buf[:1]
            else:
                self._text.append(b)
                del buf[:1]

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=1)
        self.serial.close()

"""The ECR protocol over a real serial line (socat pty pair): a register on one end,
the terminal's SerialEcr on the other, answers through the one worker queue."""

from __future__ import annotations

import json
import queue
import threading

import serial

from terminal.ecr import EcrRequest, open_ecr


def test_serial_ecr_round_trip(ptys: tuple[str, str]) -> None:
    terminal_end, register_end = ptys
    requests: queue.Queue[EcrRequest] = queue.Queue()
    endpoint = open_ecr(f"serial://{terminal_end}?baudrate=115200", requests)
    endpoint.start()

    def worker() -> None:
        request = requests.get(timeout=10)
        request.answer = {"decision": "approved", "amount": request.fields["amount"]}
        request.done.set()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        with serial.Serial(register_end, baudrate=115200, timeout=10) as register:
            register.write(b'{"type": "sale", "amount": 1234, "id": "r1"}\n')
            answer = json.loads(register.readline())
            assert answer == {"decision": "approved", "amount": 1234}
            register.write(b"{broken\n")
            assert "error" in json.loads(register.readline())
    finally:
        endpoint.stop()
        thread.join(5)

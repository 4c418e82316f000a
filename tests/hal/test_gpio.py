"""Matrix keypad scanning and debounce, and the lights/buzzer, with injected pins.

This machine has no GPIO chip (no /dev/gpiochip*, no gpio-sim module), so the
periphery.GPIO lines themselves cannot be opened here; the test below proves the
driver asks periphery for them and reports the failure as GpioError.
"""

from __future__ import annotations

import pytest

from hal.events import EventQueue, Key, KeyPressed
from hal.gpio import (
    DEFAULT_LAYOUT,
    TONES,
    Debouncer,
    GpioError,
    GpioIndicators,
    MatrixKeypad,
    parse_layout,
)
from hal.ports import Beep, Light
from hal.registry import open_device


class Matrix:
    """A fake 4×4 switch matrix wired like the real one: pressed keys short a row to a
    column; columns read high (pulled up) unless their driven-low row is shorted."""

    def __init__(self) -> None:
        self.driven = [True] * 4
        self.closed: set[tuple[int, int]] = set()
        self.rows = [self.Row(self, r) for r in range(4)]
        self.cols = [self.Col(self, c) for c in range(4)]

    class Row:
        def __init__(self, matrix: Matrix, index: int) -> None:
            self.matrix, self.index = matrix, index

        def write(self, value: bool) -> None:
            self.matrix.driven[self.index] = value

    class Col:
        def __init__(self, matrix: Matrix, index: int) -> None:
            self.matrix, self.index = matrix, index

        def read(self) -> bool:
            return not any(
                not self.matrix.driven[r] and (r, self.index) in self.matrix.closed
                for r in range(4)
            )


def keypad() -> tuple[Matrix, MatrixKeypad, EventQueue]:
    matrix = Matrix()
    pad = MatrixKeypad(matrix.rows, matrix.cols, parse_layout(DEFAULT_LAYOUT), stable_scans=3)
    queue = EventQueue()
    pad.router.attach(queue)
    return matrix, pad, queue


def test_stable_press_reported_once() -> None:
    matrix, pad, queue = keypad()
    matrix.closed = {(0, 1)}  # key "2"
    assert [pad.scan_once() for _ in range(5)] == [[], [], [Key.D2], [], []]
    assert queue.drain() == [KeyPressed(source="keypad", key=Key.D2)]


def test_bounce_is_ignored() -> None:
    matrix, pad, queue = keypad()
    for closed in ({(3, 3)}, set(), {(3, 3)}, set(), {(3, 3)}, set()):
        matrix.closed = closed
        pad.scan_once()
    assert queue.drain() == []


def test_release_then_press_again_and_two_keys() -> None:
    matrix, pad, _ = keypad()
    seen: list[Key] = []
    for closed in [{(0, 0)}] * 3 + [set()] * 3 + [{(0, 0), (3, 3)}] * 3:
        matrix.closed = closed
        seen += pad.scan_once()
    assert seen == [Key.D1, Key.D1, Key.ENTER]


def test_pin_mode_routes_to_sink() -> None:
    matrix, pad, queue = keypad()
    got: list[Key] = []

    class Sink:
        def pin_key(self, key: Key) -> None:
            got.append(key)

    pad.set_pin_sink(Sink())
    matrix.closed = {(1, 1)}
    for _ in range(3):
        pad.scan_once()
    assert got == [Key.D5] and queue.drain() == []


def test_debouncer_requires_stability() -> None:
    debouncer = Debouncer(2)
    assert debouncer.update({(0, 0)}) == []
    assert debouncer.update({(0, 0)}) == [(0, 0)]


class Pin:
    def __init__(self) -> None:
        self.values: list[bool] = []

    def write(self, value: bool) -> None:
        self.values.append(value)


def test_lights_and_tones() -> None:
    pins = [Pin() for _ in range(4)]
    tones: list[tuple[float, float]] = []

    class Buzzer:
        def tone(self, frequency: float, seconds: float) -> None:
            tones.append((frequency, seconds))

    indicators = GpioIndicators(pins, Buzzer())
    indicators.set_lights(Light.LIGHT1 | Light.LIGHT4)
    assert [p.values[-1] for p in pins] == [True, False, False, True]
    indicators.beep(Beep.ALERT)
    indicators.wait_idle()
    assert tuple(tones) == TONES[Beep.ALERT]
    with pytest.raises(GpioError):
        GpioIndicators(pins[:3])


def test_real_periphery_lines_fail_cleanly_without_a_chip() -> None:
    with pytest.raises(GpioError, match="gpiochip"):
        open_device("keypad", "gpio:///dev/gpiochip-absent?rows=1,2&cols=3,4&keys=1,2,3,4")


def test_pwm_and_gpio_buzzers_follow_the_tone_table() -> None:
    """The PWM buzzer drives periphery.PWM's attribute API (frequency, duty_cycle,
    enable/disable); the plain buzzer switches a line. No sleeping: injected."""
    from hal.gpio import GpioBuzzer, PwmBuzzer

    class FakePwm:
        def __init__(self) -> None:
            self.log: list[object] = []
            self.frequency = 0.0
            self.duty_cycle = 0.0

        def enable(self) -> None:
            self.log.append(("on", self.frequency, self.duty_cycle))

        def disable(self) -> None:
            self.log.append("off")

    pwm, slept = FakePwm(), []
    indicators = GpioIndicators([Pin() for _ in range(4)], PwmBuzzer(pwm, sleep=slept.append))
    indicators.beep(Beep.ALERT)
    indicators.wait_idle()
    assert pwm.log == [("on", 750.0, 0.5), "off", ("on", 750.0, 0.5), "off"]
    assert slept == [0.2, 0.2, 0.2]
    line = Pin()
    GpioBuzzer(line, sleep=lambda s: None).tone(1500.0, 0.5)
    assert line.values == [True, False]

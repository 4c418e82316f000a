"""GPIO devices (python-periphery): a scanned matrix keypad with debounce, the four
EMV contactless status lights and the buzzer.

Pins come from config (``[devices.gpio]`` or the ``gpio://`` URL query). The scan
and debounce logic takes any pin object with periphery's ``read()``/``write()``
shape, so it runs the same against periphery.GPIO lines on a handset and against
injected pins in tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from hal.errors import HalError
from hal.events import EventQueue, Key
from hal.keyrouter import KeyRouter
from hal.ports import Beep, Light, PinSink


class GpioError(HalError):
    """A GPIO line, LED or PWM channel could not be opened or driven (which one, why)."""


class InputPin(Protocol):
    def read(self) -> bool: ...


class OutputPin(Protocol):
    def write(self, value: bool) -> None: ...


DEFAULT_LAYOUT = "1,2,3,CANCEL,4,5,6,CLEAR,7,8,9,BACKSPACE,F1,0,F2,ENTER"


class Debouncer:
    """A key counts as pressed once seen down in ``stable_scans`` consecutive scans and
    released once seen up as many times; only the press edge is reported."""

    def __init__(self, stable_scans: int = 3) -> None:
        self.stable_scans = max(1, stable_scans)
        self._count: dict[tuple[int, int], int] = {}
        self._down: set[tuple[int, int]] = set()

    def update(self, raw_down: set[tuple[int, int]]) -> list[tuple[int, int]]:
        pressed: list[tuple[int, int]] = []
        for position in raw_down | set(self._count) | self._down:
            is_down = position in raw_down
            was_down = position in self._down
            if is_down == was_down:
                self._count.pop(position, None)
                continue
            count = self._count.get(position, 0) + 1
            if count >= self.stable_scans:
                self._count.pop(position, None)
                if is_down:
                    self._down.add(position)
                    pressed.append(position)
                else:
                    self._down.discard(position)
            else:
                self._count[position] = count
        return sorted(pressed)


def scan_matrix(rows: Sequence[OutputPin], columns: Sequence[InputPin]) -> set[tuple[int, int]]:
    """Drive one row low at a time and read the (pulled-up) columns: low = key down."""
    down: set[tuple[int, int]] = set()
    for r, row in enumerate(rows):
        row.write(False)
        for c, column in enumerate(columns):
            if not column.read():
                down.add((r, c))
        row.write(True)
    return down


class MatrixKeypad:
    """The Keypad port over a row/column matrix, scanned on a thread.

    Raises GpioError (from :func:`open_url`) when a line cannot be opened.
    """

    def __init__(
        self,
        rows: Sequence[OutputPin],
        columns: Sequence[InputPin],
        layout: Sequence[Key],
        scan_interval: float = 0.005,
        stable_scans: int = 3,
        source: str = "keypad",
        closers: Sequence[Callable[[], None]] = (),
    ) -> None:
        if len(layout) != len(rows) * len(columns):
            raise GpioError(
                f"layout has {len(layout)} keys for a {len(rows)}x{len(columns)} matrix"
            )
        self.rows = rows
        self.columns = columns
        self.layout = list(layout)
        self.scan_interval = scan_interval
        self.debouncer = Debouncer(stable_scans)
        self.router = KeyRouter(source)
        self._closers = closers
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def scan_once(self) -> list[Key]:
        """One scan; presses that became stable are routed and returned."""
        keys = [
            self.layout[r * len(self.columns) + c]
            for r, c in self.debouncer.update(scan_matrix(self.rows, self.columns))
        ]
        for key in keys:
            self.router.press(key)
        return keys

    def attach(self, queue: EventQueue) -> None:
        self.router.attach(queue)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="hal-matrix-keypad")
            self._thread.start()

    def set_pin_sink(self, sink: PinSink | None) -> None:
        self.router.set_pin_sink(sink)

    def _run(self) -> None:
        while not self._stop.wait(self.scan_interval):
            self.scan_once()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None
        for close in self._closers:
            close()


class Buzzer(Protocol):
    def tone(self, frequency: float, seconds: float) -> None: ...


class PwmBuzzer:
    """A buzzer on a PWM channel (periphery.PWM): frequency and 50 % duty."""

    def __init__(self, pwm: Any, sleep: Callable[[float], None] = time.sleep) -> None:
        self.pwm = pwm
        self.sleep = sleep

    def tone(self, frequency: float, seconds: float) -> None:
        if frequency <= 0:
            self.sleep(seconds)
            return
        self.pwm.frequency = frequency
        self.pwm.duty_cycle = 0.5
        self.pwm.enable()
        self.sleep(seconds)
        self.pwm.disable()


class GpioBuzzer:
    """A self-oscillating buzzer on a plain GPIO line: on for the tone's length."""

    def __init__(self, pin: OutputPin, sleep: Callable[[float], None] = time.sleep) -> None:
        self.pin = pin
        self.sleep = sleep

    def tone(self, frequency: float, seconds: float) -> None:
        self.pin.write(frequency > 0)
        self.sleep(seconds)
        self.pin.write(False)


# EMV Contactless Book A, 9.3: success tone ≈1500 Hz for ≈500 ms; alert tone ≈750 Hz,
# 200 ms on, 200 ms off, 200 ms on. (frequency, seconds); frequency 0 is silence.
TONES: dict[Beep, tuple[tuple[float, float], ...]] = {
    Beep.SUCCESS: ((1500.0, 0.5),),
    Beep.ALERT: ((750.0, 0.2), (0.0, 0.2), (750.0, 0.2)),
    Beep.KEY: ((2000.0, 0.03),),
}


class GpioIndicators:
    """The Indicators port: four lights (GPIO lines or LEDs with ``write``) and a buzzer.

    Beeps play on a worker thread so the caller (the state machine) never waits.
    """

    def __init__(
        self,
        lights: Sequence[OutputPin],
        buzzer: Buzzer | None = None,
        closers: Sequence[Callable[[], None]] = (),
    ) -> None:
        if len(lights) != 4:
            raise GpioError(f"EMV contactless needs 4 status lights, got {len(lights)}")
        self.lights = lights
        self.buzzer = buzzer
        self._closers = closers
        self._beeping = threading.Lock()
        self._thread: threading.Thread | None = None

    def set_lights(self, lights: Light) -> None:
        for index, pin in enumerate(self.lights):
            pin.write(bool(lights & Light(1 << index)))

    def beep(self, kind: Beep = Beep.SUCCESS) -> None:
        if self.buzzer is None:
            return
        self._thread = threading.Thread(
            target=self._play, args=(TONES[kind],), daemon=True, name="hal-buzzer"
        )
        self._thread.start()

    def wait_idle(self, timeout: float = 2.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _play(self, pattern: tuple[tuple[float, float], ...]) -> None:
        assert self.buzzer is not None
        with self._beeping:
            for frequency, seconds in pattern:
                self.buzzer.tone(frequency, seconds)

    def close(self) -> None:
        self.wait_idle()
        for close in self._closers:
            close()


def parse_layout(text: str) -> list[Key]:
    try:
        return [Key.parse(label.strip()) for label in text.split(",")]
    except (KeyError, ValueError) as error:
        raise GpioError(f"unknown key label in layout: {error}") from None


def _lines(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise GpioError(f"pin list must be comma-separated numbers, got {text!r}") from None


def open_url(kind: str, url: Any, **options: Any) -> MatrixKeypad | GpioIndicators:
    """``gpio:///dev/gpiochip0?rows=5,6,13,19&cols=12,16,20,21`` (keypad) or
    ``gpio:///dev/gpiochip0?lights=17,27,22,23&buzzer=24`` / ``&pwm=0:0`` (indicators).

    Raises GpioError when a line cannot be opened (periphery.GPIOError inside).
    """
    import periphery

    query = {**url.query, **{k: str(v) for k, v in options.items()}}
    chip = url.path or "/dev/gpiochip0"
    opened: list[Any] = []

    def line(number: int, direction: str, bias: str = "default") -> Any:
        try:
            gpio = periphery.GPIO(chip, number, direction, bias=bias)
        except (periphery.GPIOError, OSError, TypeError) as error:
            for item in opened:
                item.close()
            raise GpioError(f"cannot open {chip} line {number}: {error}") from None
        opened.append(gpio)
        return gpio

    if kind == "keypad":
        rows = [line(n, "high") for n in _lines(query.get("rows", ""))]
        cols = [line(n, "in", "pull_up") for n in _lines(query.get("cols", ""))]
        return MatrixKeypad(
            rows,
            cols,
            parse_layout(query.get("keys", DEFAULT_LAYOUT)),
            stable_scans=int(query.get("debounce_scans", 3)),
            closers=[item.close for item in opened],
        )
    lights = [line(n, "low") for n in _lines(query.get("lights", ""))]
    buzzer: Buzzer | None = None
    if "pwm" in query:
        chip_no, _, channel = query["pwm"].partition(":")
        try:
            pwm = periphery.PWM(int(chip_no), int(channel or 0))
        except (periphery.PWMError, OSError, ValueError) as error:
            raise GpioError(f"cannot open PWM {query['pwm']}: {error}") from None
        opened.append(pwm)
        buzzer = PwmBuzzer(pwm)
    elif "buzzer" in query:
        buzzer = GpioBuzzer(line(int(query["buzzer"]), "low"))
    return GpioIndicators(lights, buzzer, closers=[item.close for item in opened])

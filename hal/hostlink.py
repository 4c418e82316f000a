"""Links to the acquirer host: TCP (optionally TLS with certificate pinning) and serial.

Both carry host-spec framing: a 2-byte big-endian length, then that many bytes; a
frame longer than 4096 bytes is refused in both directions. Every failure raises
a :class:`HostLinkError` subclass, which the terminal treats as "no valid
response". After a time-out, a short read or a bad length the connection is
dropped (the byte stream can no longer be trusted) and the next ``send``
reconnects.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import serial

from hal.errors import HalError

MAX_FRAME = 4096  # host-spec: a longer frame is "no valid response"
HEADER = 2


if TYPE_CHECKING:
    import ssl


class HostLinkError(HalError):
    """The host could not be reached or answered with something unusable."""


class ConnectError(HostLinkError):
    pass


class PinMismatchError(ConnectError):
    """The server certificate's SHA-256 is not the pinned one (both shown as hex)."""


class LinkTimeout(HostLinkError):
    pass


class FrameTooLongError(HostLinkError):
    pass


class LinkClosedError(HostLinkError):
    """The peer closed or the link broke, possibly in the middle of a frame."""


def encode_frame(payload: bytes) -> bytes:
    """Length-prefix ``payload``; raises FrameTooLongError above 4096 bytes."""
    if len(payload) > MAX_FRAME:
        raise FrameTooLongError(f"frame of {len(payload)} bytes exceeds {MAX_FRAME}")
    return len(payload).to_bytes(HEADER, "big") + payload


class FrameDecoder:
    """Incremental decoder for a byte stream of frames (used by tests and the sim host)."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Complete frames found so far; raises FrameTooLongError on a bad length."""
        self._buffer += data
        frames: list[bytes] = []
        while len(self._buffer) >= HEADER:
            size = int.from_bytes(self._buffer[:HEADER], "big")
            if size > self.max_frame:
                raise FrameTooLongError(f"announced frame of {size} bytes exceeds {self.max_frame}")
            if len(self._buffer) < HEADER + size:
                break
            frames.append(bytes(self._buffer[HEADER : HEADER + size]))
            del self._buffer[: HEADER + size]
        return frames

    @property
    def pending(self) -> int:
        return len(self._buffer)


def read_frame(read: Callable[[int, float], bytes], timeout: float) -> bytes:
    """One frame via ``read(n, seconds_left)`` (returns b"" on time-out, raises on close)."""
    deadline = time.monotonic() + timeout

    def exactly(size: int, what: str) -> bytes:
        data = bytearray()
        while len(data) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LinkTimeout(
                    f"no {what} within {timeout:g} s ({len(data)} of {size} bytes)"
                    if data or what == "frame body"
                    else f"no response within {timeout:g} s"
                )
            data += read(size - len(data), left)
        return bytes(data)

    size = int.from_bytes(exactly(HEADER, "frame length"), "big")
    if size > MAX_FRAME:
        raise FrameTooLongError(f"announced frame of {size} bytes exceeds {MAX_FRAME}")
    return exactly(size, "frame body")


def certificate_sha256(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


class _FramedLink:
    """receive/close shared by the TCP and serial links; subclasses supply ``_read``."""

    _handle: Any = None
    where = ""

    @property
    def connected(self) -> bool:
        return self._handle is not None

    def _read(self, size: int, left: float) -> bytes:
        raise NotImplementedError

    def receive(self, timeout: float) -> bytes:
        """One frame within ``timeout`` seconds. Raises LinkTimeout, FrameTooLongError,
        LinkClosedError; each drops the connection."""
        if self._handle is None:
            raise LinkClosedError(f"{self.where}: not connected")
        try:
            return read_frame(self._read, timeout)
        except HostLinkError:
            self.close()
            raise

    def close(self) -> None:
        if self._handle is not None:
            try:
                self._handle.close()
            finally:
                self._handle = None


class TcpHostLink(_FramedLink):
    """The HostLink port over TCP, or TLS 1.2+ when ``tls`` is set.

    With ``pin_sha256`` (hex SHA-256 of the server certificate, DER) the chain is not
    checked against a CA: the exact certificate is required. Without a pin the
    certificate is verified against ``ca_file`` (or the system store) and hostname.
    """

    def __init__(
        self,
        host: str,
        port: int,
        tls: bool = False,
        pin_sha256: str | bytes | None = None,
        ca_file: str | None = None,
        server_hostname: str | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        if isinstance(pin_sha256, bytes):
            pin_sha256 = pin_sha256.hex()
        self.pin_sha256 = pin_sha256.replace(":", "").lower() if pin_sha256 else None
        self.ca_file = ca_file
        self.server_hostname = server_hostname or host
        self.connect_timeout = connect_timeout
        self.where = f"{'tls' if tls else 'tcp'}://{host}:{port}"
        self._handle: socket.socket | None = None

    def _context(self) -> ssl.SSLContext:
        import ssl  # only TLS links pay for OpenSSL (~5 MB resident)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.pin_sha256:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # the pin below is the check
        elif self.ca_file:
            context.load_verify_locations(self.ca_file)
        else:
            context.load_default_certs()
        return context

    def connect(self, timeout: float | None = None) -> None:
        """Raises ConnectError (refused, TLS failure) or PinMismatchError."""
        self.close()
        limit = self.connect_timeout if timeout is None else timeout
        try:
            sock = socket.create_connection((self.host, self.port), timeout=limit)
        except OSError as error:
            raise ConnectError(f"cannot connect to {self.where}: {error}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            try:
                sock = self._context().wrap_socket(sock, server_hostname=self.server_hostname)
            except OSError as error:  # ssl.SSLError is an OSError
                sock.close()
                raise ConnectError(f"TLS handshake with {self.where} failed: {error}") from None
            if self.pin_sha256:
                der = sock.getpeercert(binary_form=True) or b""
                seen = certificate_sha256(der)
                if not hmac.compare_digest(seen, self.pin_sha256):
                    sock.close()
                    raise PinMismatchError(
                        f"{self.where} certificate SHA-256 {seen} "
                        f"is not the pinned {self.pin_sha256}"
                    )
        self._handle = sock

    def send(self, frame: bytes) -> None:
        """Send one frame, connecting first if needed. Raises FrameTooLongError,
        ConnectError, LinkClosedError."""
        data = encode_frame(frame)
        if self._handle is None:
            self.connect()
        assert self._handle is not None
        try:
            self._handle.settimeout(self.connect_timeout)
            self._handle.sendall(data)
        except OSError as error:
            self.close()
            raise LinkClosedError(f"sending to {self.where} failed: {error}") from None

    def _read(self, size: int, left: float) -> bytes:
        assert self._handle is not None
        self._handle.settimeout(left)
        try:
            chunk = self._handle.recv(size)
        except TimeoutError:
            return b""
        except OSError as error:
            if self.tls:
                import ssl  # already loaded by the TLS handshake

                if isinstance(error, ssl.SSLWantReadError):  # TLS record not complete yet
                    return b""
            raise LinkClosedError(f"{self.where}: {error}") from None
        if not chunk:
            raise LinkClosedError(f"{self.where} closed the connection")
        return chunk


class SerialHostLink(_FramedLink):
    """The HostLink port over a serial line (dial-up style PSTN/RS-232 host links)."""

    def __init__(self, port: str, baudrate: int = 9600) -> None:
        self.port = port
        self.baudrate = baudrate
        self._handle: serial.Serial | None = None
        self.where = port

    def connect(self, timeout: float | None = None) -> None:
        """Raises ConnectError when the port cannot be opened."""
        self.close()
        try:
            self._handle = serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.05)
        except (serial.SerialException, OSError, ValueError) as error:
            raise ConnectError(f"cannot open {self.port}: {error}") from None
        self._handle.reset_input_buffer()

    def send(self, frame: bytes) -> None:
        data = encode_frame(frame)
        if self._handle is None:
            self.connect()
        assert self._handle is not None
        try:
            self._handle.write(data)
            self._handle.flush()
        except (serial.SerialException, OSError) as error:
            self.close()
            raise LinkClosedError(f"writing {self.port} failed: {error}") from None

    def _read(self, size: int, left: float) -> bytes:
        assert self._handle is not None
        self._handle.timeout = min(left, 0.1)
        try:
            return bytes(self._handle.read(size))
        except (serial.SerialException, OSError) as error:
            raise LinkClosedError(f"reading {self.port} failed: {error}") from None


def open_url(kind: str, url: Any, **options: Any) -> TcpHostLink | SerialHostLink:
    """``tcp://127.0.0.1:8583``, ``tls://host:port`` (options pin_sha256, ca_file),
    ``serial:///dev/ttyS3?baud=9600``."""
    query = {**url.query, **options}
    if url.scheme == "serial":
        return SerialHostLink(url.path or url.target, int(query.get("baud", 9600)))
    host, _, port = url.netloc.rpartition(":")
    if not host or not port.isdigit():
        raise ConnectError(f"host URL needs host:port, got {url.netloc!r}")
    return TcpHostLink(
        host.strip("[]"),
        int(port),
        tls=url.scheme == "tls",
        pin_sha256=query.get("pin_sha256"),
        ca_file=query.get("ca_file"),
        server_hostname=query.get("server_hostname"),
        connect_timeout=float(query.get("connect_timeout", 10.0)),
    )

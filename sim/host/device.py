"""``sim://`` host URLs for hal's registry: an in-process sim.host behind a real TCP link.

``sim://?rules=FILE&ledger=FILE&bdk=HEX`` starts (once per URL) a HostSimulator on a
free loopback port and returns hal's own TcpHostLink to it, so the terminal's host code
path is the production one.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from sim.host.cli import TEST_BDK
from sim.host.errors import HostError
from sim.host.server import HostSimulator

_HOSTS: dict[str, HostSimulator] = {}
_LOCK = threading.Lock()


def open_device(kind: str, url: str, **options: Any) -> Any:
    """The HostLink for ``sim://?rules=...``; raises HostError for other kinds."""
    if kind != "host":
        raise HostError(f"sim.host provides the host device, not {kind!r}")
    from hal.hostlink import TcpHostLink
    from hal.registry import parse_url

    opts = {**parse_url(url).query, **options}
    if "rules" not in opts:
        raise HostError("sim:// host URL needs rules=FILE")
    key = f"{opts['rules']}|{opts.get('ledger', '')}|{opts.get('bdk', '')}"
    with _LOCK:
        host = _HOSTS.get(key)
        if host is None:
            host = HostSimulator(
                opts["rules"], opts.get("ledger", "host-ledger.db"), opts.get("bdk") or TEST_BDK
            )
            host.start()
            _HOSTS[key] = host
    return TcpHostLink("127.0.0.1", host.port)


@atexit.register
def _stop_all() -> None:
    with _LOCK:
        for host in _HOSTS.values():
            host.stop()
        _HOSTS.clear()

"""``sim://`` host URLs: sim.devices delegates the host kind to sim.host.open_device,
which serves an in-process host behind hal's own TcpHostLink."""

from __future__ import annotations

from pathlib import Path

import iso8583
import pytest
from iso8583.specs import default as spec_default

from sim import devices
from sim.host import HostError, open_device
from tests.hal.test_hostlink import make_cert

EXAMPLE = Path(__file__).resolve().parents[2] / "sim" / "host" / "rules-example.toml"


@pytest.mark.parametrize("tls", [False, True])
def test_sim_host_url_gives_a_working_link(tmp_path: Path, tls: bool) -> None:
    url = f"sim://?rules={EXAMPLE}&ledger={tmp_path / 'l.db'}"
    if tls:
        cert, key, pin = make_cert(tmp_path)
        url += f"&tls_cert={cert}&tls_key={key}"
    link = devices.open_device("host", url)
    assert link.tls is tls and link.pin_sha256 == (pin if tls else None)
    link.connect(5.0)
    try:
        raw, _ = iso8583.encode(
            {"t": "0800", "11": "000001", "41": "TERM0001", "70": "301"}, spec_default
        )
        link.send(bytes(raw))  # the link adds the 2-byte length itself
        fields, _ = iso8583.decode(link.receive(5.0), spec_default)
        assert fields["t"] == "0810" and fields["39"] == "00"
    finally:
        link.close()


def test_other_kinds_and_missing_rules_are_refused() -> None:
    with pytest.raises(HostError):
        open_device("printer", "sim://")
    with pytest.raises(HostError, match="rules"):
        open_device("host", "sim://")

"""posterm certify against a card behind pyscard -> pcscd -> vpcd (a pcsc:// case)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sim import vpcd
from sim.card import Faults, VirtualCard, load_profile
from terminal.cli import main

pytestmark = pytest.mark.pcsc

SUITE = """
[[case]]
name = "{name}"
card = "pcsc://{reader}"
pin = "1234"
aid = [{{ floor_limit = 5000 }}, {{ aid = "A0000000031010", app_version = "0096" }}]
expected = {expected}
"""


def run_suite(tmp_path: Path, reader: str, name: str, expected: str) -> ET.Element:
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(name=name, reader=reader, expected=expected))
    code = main(["certify", str(suite), "--report", str(tmp_path / "out")])
    root = ET.parse(tmp_path / "out/junit.xml").getroot()
    failure = root.find("testcase/failure")
    error = root.find("testcase/error")
    detail = failure if failure is not None else error
    assert code == 0, detail.get("message") if detail is not None else code
    return root


def test_cda_enciphered_pin_case_through_pcscd(pcscd: str, tmp_path: Path) -> None:
    link = vpcd.start(VirtualCard(load_profile("visa-cda")))
    try:
        root = run_suite(
            tmp_path,
            pcscd,
            "pcsc-cda",
            '{ decision = "approved_offline", tvr = "0000000000", cvm_results = "440302", '
            'genac1 = "TC", genac2 = "" }',
        )
    finally:
        link.stop()
    assert root.get("tests") == "1"


def test_card_pulled_behind_pcscd_is_card_removed(pcscd: str, tmp_path: Path) -> None:
    link = vpcd.start(VirtualCard(load_profile("visa-cda"), faults=Faults(pull_after=6)))
    try:
        run_suite(
            tmp_path,
            pcscd,
            "pcsc-pulled",
            '{ decision = "terminated", reason = "CARD_REMOVED", genac1 = "" }',
        )
    finally:
        link.stop()

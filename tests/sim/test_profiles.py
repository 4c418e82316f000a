"""Every bundled card profile loads, is consistent, and the set covers issue #5's list."""

from __future__ import annotations

import datetime
import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.card import ProfileError, VirtualCard, list_profiles, load_profile
from sim.card.dol import dol_length
from tests.sim.test_card_kit import select_and_read, tlv_items

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "sim-cards.md"


def luhn_ok(pan: str) -> bool:
    total = 0
    for i, digit in enumerate(reversed(pan)):
        n = int(digit) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def test_at_least_fifteen_profiles() -> None:
    assert len(list_profiles()) >= 15


@pytest.mark.parametrize("name", list_profiles())
def test_profile_loads_and_is_consistent(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.description
    track1, track2 = profile.tracks
    pan = track2.split("=")[0]
    assert luhn_ok(pan) and track1.startswith("B" + pan + "^")
    for app in profile.applications:
        assert luhn_ok(app.pan)
        assert pan == profile.applications[0].pan
        for sfi, first, last, oda in (app.afl[i : i + 4] for i in range(0, len(app.afl), 4)):
            assert 1 <= sfi >> 3 <= 30 and first <= last and oda <= last - first + 1
        numbers = {(r.sfi, r.number) for r in app.records}
        listed = {
            (app.afl[i] >> 3, n)
            for i in range(0, len(app.afl), 4)
            for n in range(app.afl[i + 1], app.afl[i + 2] + 1)
        }
        assert numbers == listed, "AFL lists exactly the records the card holds"
        for record in app.records:
            ((tag, _),) = tlv_items(record.body)
            assert tag == "70" and len(record.body) <= 256
        assert dol_length(app.cdol1) > 0 and dol_length(app.cdol2) > 0


@pytest.mark.parametrize("name", [n for n in list_profiles() if load_profile(n).has_chip])
def test_profile_mandatory_data_present(name: str) -> None:
    """EMV 4.4 Book 3, 7.2: data the terminal must find after reading records."""
    profile = load_profile(name)
    app = profile.applications[0]
    if app.blocked:
        return
    txn = select_and_read(VirtualCard(profile))
    for tag in ("5A", "5F24", "57"):
        assert tag in txn.data, tag
    if app.kernel == "emv":
        for tag in ("8C", "8D"):
            assert tag in txn.data, tag
    oda = app.oda
    if oda != "none":
        assert {"8F", "90", "9F32"} <= set(txn.data)


def test_coverage_of_issue_list() -> None:
    profiles = {n: load_profile(n) for n in list_profiles()}
    apps = {n: p.applications[0] for n, p in profiles.items() if p.applications}
    today = datetime.date(2026, 11, 25)

    def cvm_codes(app):  # type: ignore[no-untyped-def]
        rules = app.data["8E"][8:]
        return {rules[i] & 0x3F for i in range(0, len(rules), 2)}

    assert any(a.oda == "sda" for a in apps.values())
    assert any(a.oda == "dda" for a in apps.values())
    assert any(a.oda == "cda" for a in apps.values())
    assert any(0x01 in cvm_codes(a) for a in apps.values()), "offline plaintext PIN"
    assert any(0x04 in cvm_codes(a) for a in apps.values()), "offline enciphered PIN"
    assert any(0x02 in cvm_codes(a) for a in apps.values()), "online PIN"
    assert any(cvm_codes(a) == {0x1E} for a in apps.values()), "signature"
    assert any(cvm_codes(a) == {0x1F} for a in apps.values()), "no CVM"
    expiry = {
        n: datetime.datetime.strptime(a.data["5F24"].hex(), "%y%m%d").date()
        for n, a in apps.items()
    }
    effective = {
        n: datetime.datetime.strptime(a.data["5F25"].hex(), "%y%m%d").date()
        for n, a in apps.items()
    }
    assert any(d < today for d in expiry.values()), "expired"
    assert any(d > today for d in effective.values()), "not yet effective"
    assert any(a.blocked for a in apps.values())
    assert any(a.pin is not None and a.pin_tries == 0 for a in apps.values())
    assert any(
        len(p.applications) > 1 and all(a.confirmation for a in p.applications)
        for p in profiles.values()
    )
    assert any(a.data["9F07"] == bytes.fromhex("A980") for a in apps.values()), "domestic-only AUC"
    assert any(not p.has_chip for p in profiles.values()), "magstripe only"
    assert any(p.has_chip and p.tracks[1].split("=")[1][4] == "2" for p in profiles.values()), (
        "service code 2xx"
    )
    assert any(a.kernel == "qvsdc" and p.ppse for p, a in ((profiles[n], apps[n]) for n in apps))
    assert any(
        a.aid[:5].hex() == "a000000004" and p.ppse and not p.pse
        for n, a in apps.items()
        for p in [profiles[n]]
    )
    assert any(a.data.get("9F6C", b"\x00\x00")[1] & 0x80 for a in apps.values()), (
        "consumer device CVM"
    )


def test_profiles_listed_in_docs() -> None:
    text = DOCS.read_text()
    for name in list_profiles():
        assert f"`{name}`" in text, name


def test_unknown_profile_and_path_loading(tmp_path: Path) -> None:
    with pytest.raises(ProfileError):
        load_profile("no-such-card")
    path = tmp_path / "mine.toml"
    path.write_text(
        'name = "mine"\ndescription = "x"\n[[applications]]\n'
        'aid = "A0000000031010"\npan = "4761739001010218"\n'
    )
    profile = load_profile(path)
    assert profile.name == "mine" and profile.applications[0].oda == "none"
    bad = tmp_path / "bad.toml"
    bad.write_text("name = ")
    with pytest.raises(ProfileError):
        load_profile(bad)


def test_profile_load_is_cached_and_fast() -> None:
    import time

    load_profile("visa-cda")
    start = time.perf_counter()
    for _ in range(100):
        load_profile("visa-cda")
    assert time.perf_counter() - start < 0.5


LAYOUT_TAGS = [
    "57",
    "5F20",
    "5A",
    "5F24",
    "5F25",
    "5F28",
    "5F34",
    "9F07",
    "8E",
    "9F0D",
    "9F0E",
    "9F0F",
]
LAYOUT_TAGS += ["8C", "8D", "9F08", "9F42", "9F44", "9F14", "9F23", "5F30", "9F49"]


@settings(max_examples=25, deadline=None)
@given(
    order=st.permutations(LAYOUT_TAGS),
    cuts=st.lists(st.integers(1, len(LAYOUT_TAGS) - 1), min_size=1, max_size=4, unique=True),
    sfis=st.lists(st.sampled_from([1, 2, 4, 9, 11, 12, 20]), min_size=5, max_size=5),
    oda=st.lists(st.booleans(), min_size=5, max_size=5),
    pads=st.lists(st.integers(0, 3), min_size=5, max_size=5),
)
def test_any_record_layout_gives_consistent_afl_and_cda_certificate(
    order: list[str], cuts: list[int], sfis: list[int], oda: list[bool], pads: list[int]
) -> None:
    """Records in any order over SFIs 1-30 (whole-record hashing above SFI 10, Book 3
    10.3), with '00' padding: the AFL lists them and the ICC certificate hash holds."""
    from sim.card.profile import build_profile
    from tests.sim.test_card_kit import recover_icc, recover_issuer

    bounds = [0, *sorted(cuts), len(order)]
    groups = [order[a:b] for a, b in itertools.pairwise(bounds)]
    records, used = [], {}
    for i, tags in enumerate(groups):
        sfi = sfis[i]
        used[sfi] = used.get(sfi, 0) + 1
        records.append(
            {"sfi": sfi, "record": used[sfi], "tags": tags, "oda": oda[i], "pad": pads[i]}
        )
    records += [
        {"sfi": 3, "record": 1, "tags": ["8F", "9F32", "92", "9F47", "9F48"]},
        {"sfi": 3, "record": 2, "tags": ["90"]},
        {"sfi": 3, "record": 3, "tags": ["9F46"]},
    ]
    raw = {
        "name": "layout",
        "applications": [
            {
                "aid": "A0000000031010",
                "pan": "4761739001010226",
                "oda": "cda",
                "ca_index": "F1",
                "issuer_key": "issuer-1152",
                "icc_key": "icc-768",
                "records": records,
            }
        ],
    }
    profile = build_profile(raw)
    txn = select_and_read(VirtualCard(profile))
    assert {(s, n) for s, n, _, _ in txn.records} == {
        (r.sfi, r.number) for r in profile.applications[0].records
    }
    recover_icc(txn, recover_issuer(txn))

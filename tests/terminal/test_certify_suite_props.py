"""Property tests: any suite document parses or fails with SuiteError, never anything else."""

from __future__ import annotations

import contextlib
import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from emv.bits import TVR
from terminal.certify.runner import compare
from terminal.certify.suite import (
    CASE_KEYS,
    EXPECTED_KEYS,
    HOST_KEYS,
    TXN_KEYS,
    Expected,
    Suite,
    SuiteError,
    load_suite,
    parse_suite,
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["sim://visa-sda", "pcsc://R", "00", "0200000000", "SDA_SELECTED", "TC"]),
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 1, 1)),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def table(keys: frozenset[str] | set[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(sorted(keys)) | st.text(max_size=6), values, max_size=5)


cases = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=8), "card": st.sampled_from(["sim://visa-sda", "x"])},
    optional={
        "transaction": table(TXN_KEYS),
        "host": table(HOST_KEYS),
        "expected": table(EXPECTED_KEYS),
        "faults": values,
        "aid": values,
        "terminal": values,
        "pin": values,
        "choice": values,
    },
) | table(CASE_KEYS)
documents = st.fixed_dictionaries(
    {"case": st.lists(cases, max_size=3) | values},
    optional={"suite": values, "defaults": table(CASE_KEYS - {"name", "expected"})},
)


@given(documents)
def test_any_document_parses_or_is_a_suite_error(document: dict[str, Any]) -> None:
    try:
        suite = parse_suite(document)
    except SuiteError as error:
        assert error.where and error.problem
    else:
        assert isinstance(suite, Suite) and suite.cases


@given(st.text(max_size=200))
def test_any_text_file_loads_or_is_a_suite_error(tmp_path_factory: Any, text: str) -> None:
    path = Path(tmp_path_factory.mktemp("s")) / "suite.toml"
    path.write_text(text, encoding="utf-8")
    with contextlib.suppress(SuiteError):
        load_suite(path)


NAMED = 0
for _flag in TVR:
    NAMED |= int(_flag)
named_bits = st.integers(0, 2**40 - 1).map(lambda value: value & NAMED)


@given(named_bits, named_bits, named_bits)
def test_bit_expectations_fail_exactly_on_violations(
    actual: int, required: int, forbidden: int
) -> None:
    expected = Expected(tvr_set=TVR(required), tvr_clear=TVR(forbidden))
    problems = compare(
        expected, {"decision": "approved_offline", "tvr": TVR(actual).to_bytes().hex()}
    )
    violated = (required & ~actual) | (forbidden & actual)
    assert len(problems) == bin(violated).count("1")


def test_builtin_suite_is_valid_toml_with_unique_names() -> None:
    from terminal.commands.certify import builtin_suite_path

    data = tomllib.loads(builtin_suite_path().read_text())
    names = [case["name"] for case in data["case"]]
    assert len(names) == len(set(names))

"""`posterm certify`: run certification suites against the real kernel and report.

A suite (:mod:`terminal.certify.suite`) is a TOML file of cases: a card
(``sim://PROFILE`` with optional faults, or ``pcsc://READER``), transaction inputs,
terminal-configuration overrides, the host's answer and the results the EMV books
require. :mod:`terminal.certify.runner` runs each case through ``emv.kernel``;
:mod:`terminal.certify.report` writes junit.xml, report.md and report.html.
"""

from terminal.certify.runner import CaseResult, Verdict, run_case
from terminal.certify.suite import Case, Suite, SuiteError, load_suite, parse_suite

BUILTIN_SUITE = "builtin.toml"

__all__ = [
    "BUILTIN_SUITE",
    "Case",
    "CaseResult",
    "Suite",
    "SuiteError",
    "Verdict",
    "load_suite",
    "parse_suite",
    "run_case",
]

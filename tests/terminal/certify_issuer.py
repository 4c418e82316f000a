"""The built-in suite's issuer data: real ARPCs and script MACs under the TEST issuer keys.

The suite has no issuer, so cases that need a correct ARPC (91) or MACed script carry
them as hex. They are computed here with the simulator's host cryptography (pyemv,
independent of emv/) for the exact transaction of the case: the ARQC does not depend on
what the host sends back, so a first run without issuer data gives the cryptogram the
real run will carry. ``python -m tests.terminal.certify_issuer`` prints the values; the
test in test_certify.py holds the suite to them.
"""

from __future__ import annotations

import dataclasses

from emv.context import TransactionContext
from emv.kernel import run_context
from sim.card import load_profile
from sim.host import emvauth, scripts
from terminal.certify.runner import (
    CaseCallbacks,
    base_config,
    case_config,
    open_card,
    transaction_input,
)
from terminal.certify.suite import Case, HostAnswer, load_suite
from terminal.commands.certify import builtin_suite_path

# case name -> (script tag, script id, script commands) or None for 91 only
ISSUER_CASES: dict[str, tuple[int, int, tuple[str, ...]] | None] = {
    "issuer-authentication-succeeds": None,
    "issuer-script-72-succeeds": (0x72, 3, ("put_data:9F4F:9F02065F2A029A039C019F3602",)),
    # a good first command, then APPLICATION BLOCK with a wrong MAC ("raw:" = sent as is)
    "issuer-script-second-command-fails": (
        0x72,
        4,
        ("put_data:9F4F:9F02065F2A029A039C019F3602", "raw:841E0000080102030405060708"),
    ),
}


def _arqc_data(case: Case) -> dict[str, bytes]:
    probe = dataclasses.replace(case, host=HostAnswer(response="approve"))
    _reader, session = open_card(probe)
    ctx = TransactionContext.new(case_config(base_config(), probe), transaction_input(probe))
    run_context(ctx, session, CaseCallbacks(probe))
    return {f"{tag:X}": value for tag, value in ctx.data().items()} | {
        f"{tag:X}": value for tag, value in ctx.genac1.items()
    }


def issuer_data(case: Case) -> tuple[bytes, tuple[bytes, ...]]:
    """(91, scripts) a real issuer would send for ``case`` (approval, 8A '00')."""
    profile = load_profile(case.card.removeprefix("sim://"))
    app = profile.applications[0]
    keys = _keys(profile)
    icc = _arqc_data(case)
    cvn = emvauth.detect_cvn(icc["9F10"], app.pan)
    assert cvn is not None
    data91 = emvauth.issuer_auth_data(keys, cvn, app.pan, app.psn, icc, "00")
    plan = ISSUER_CASES.get(case.name)
    templates: tuple[bytes, ...] = ()
    if plan is not None:
        tag, script_id, commands = plan
        built = [
            bytes.fromhex(command.removeprefix("raw:"))
            if command.startswith("raw:")
            else scripts.script_command(keys, cvn, app.pan, app.psn, icc, command, index)
            for index, command in enumerate(commands)
        ]
        templates = (scripts.script_template(tag, script_id, built),)
    return data91, templates


def _keys(profile: object) -> emvauth.IssuerKeys:
    issuer = profile.issuer_keys  # type: ignore[attr-defined]
    return emvauth.IssuerKeys(issuer.ac, issuer.smi, issuer.smc)


def main() -> None:
    suite = load_suite(builtin_suite_path())
    for case in suite.cases:
        if case.name in ISSUER_CASES:
            data91, templates = issuer_data(case)
            print(case.name, data91.hex().upper(), [t.hex().upper() for t in templates])


if __name__ == "__main__":
    main()

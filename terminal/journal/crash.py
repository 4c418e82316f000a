"""A test hook that SIGKILLs the process at the Nth journal write.

``POSTERM_JOURNAL_CRASH=N`` kills the process just before the Nth write transaction
commits; ``POSTERM_JOURNAL_CRASH=N:after`` just after. Crash tests run a subprocess once per
N and show the journal reopens consistent and every host-spec rule still holds. Unset, the
hook costs one integer comparison per write.
"""

from __future__ import annotations

import os
import signal

ENV = "POSTERM_JOURNAL_CRASH"


class CrashHook:
    def __init__(self, spec: str | None = None) -> None:
        spec = os.environ.get(ENV, "") if spec is None else spec
        self.target = 0
        self.after = False
        if spec:
            number, _, when = spec.partition(":")
            self.target = int(number)
            self.after = when == "after"
        self.count = 0

    def before_commit(self) -> None:
        self.count += 1
        if self.target and self.count == self.target and not self.after:
            os.kill(os.getpid(), signal.SIGKILL)

    def after_commit(self) -> None:
        if self.target and self.after and self.count == self.target:
            os.kill(os.getpid(), signal.SIGKILL)

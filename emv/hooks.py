"""Late-bound steps provided by sibling packages (emv.oda, emv.cvm).

The orchestrator calls ``emv.oda.perform`` and ``emv.cvm.perform`` by name so the
kernel core and those packages can be built and tested apart; while a package
lacks a hook, :func:`resolve` returns None and the caller applies the books'
"not performed" rule.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def resolve(module: str, name: str) -> Callable[..., object] | None:
    try:
        loaded = importlib.import_module(module)
    except ImportError:
        return None
    hook = getattr(loaded, name, None)
    return hook if callable(hook) else None

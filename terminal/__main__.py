"""`python -m terminal` is the same as the `posterm` command."""

from terminal.cli import main

raise SystemExit(main())

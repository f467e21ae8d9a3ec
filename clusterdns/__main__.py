"""Entry point for `python -m clusterdns`."""

from clusterdns.cli import main

raise SystemExit(main())

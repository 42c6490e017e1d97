"""``python -m rivers``: the same as the ``rivers`` command."""

from rivers.cli.main import main

raise SystemExit(main())

"""``python -m rivers_codeserver serve ...``: the same command as ``rivers serve``."""

from rivers_codeserver.cli import main

raise SystemExit(main())

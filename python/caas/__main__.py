"""``python -m caas``: the ``caas`` command."""

from .cli import main

raise SystemExit(main())

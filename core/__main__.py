"""``python -m core`` runs the ``chorus`` command line."""

from core.cli import main

raise SystemExit(main())

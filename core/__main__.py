"""``python -m core`` runs the ``chorus`` command line."""

from core.cli.main import main

raise SystemExit(main())

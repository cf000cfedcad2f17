"""The ``chorus`` command line: serve, the worker, a terminal chat, and the creator's
commands (bots, documents, credits, the widget's sites).

Like the app and the worker, the CLI is a composition root: it builds the services a
command needs (lazily, so ``chorus --help`` imports almost nothing) and may use any layer.
"""

"""The conversation: what happens in a turn, whichever channel it came from.

It owns the state machine and the engine that runs a turn (locks, storage, replies), the
dialogue that answers questions from knowledge (follow-ups read against the question
before them), the guided flow that gathers what a piece
of content needs, the content studio that makes it, the end users' own commands
(``/help``, ``/forget``, ``/link``, ``/timezone``…), the hand-over to a human, voice turns
and how a turn is recorded. It may use the foundation (settings, messages, storage, bot
definitions) and the services (knowledge, generation, voice, people, runtime, the ledger),
never the creator features, the channels, the API or the CLI: they call it.
"""

"""Chorus core: settings, messages, the state machine, the engine, storage, server and CLI."""

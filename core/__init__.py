"""Chorus core: the foundation (settings, errors, the message model, content kinds,
logs, metrics, storage), the services, the conversation and the composition root (the
app, the service builder, the worker, the CLI). See the README's Architecture section.
"""

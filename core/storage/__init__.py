"""Relational storage: models, the database handle and the repository of queries."""

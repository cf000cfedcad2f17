"""Storage, the foundation every layer stands on: the models and the database handle,
the repository of shared queries, the conversation cache and the media store (generated
files on disk with signed links). It may use only the other foundation modules.
"""

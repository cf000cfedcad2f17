"""The background machinery every process runs: the durable inbox of platform updates,
background jobs (in process or on the Redis queue), locks, rate limits, fan-out between
processes, batching, circuit breaking, progress messages and the creators' outgoing
webhooks. It knows nothing about conversations; it may use the foundation only.
"""

"""Channel adapters: each translates one platform to and from the message model."""

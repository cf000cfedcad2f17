"""Credits: the append-only ledger, Stripe checkout and webhooks, plans."""

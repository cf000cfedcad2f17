"""End users as people: their data rights (export and erasure of everything kept about
them), merging two identities of one person, and their time zones. It may use the
foundation, the runtime and the services beside it (the ledger, voice's media), never
the conversation.
"""

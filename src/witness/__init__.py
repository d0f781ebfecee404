"""The Audit Branch's witness (审计分局, Arts. 31–32): a C2SP tlog-witness service of its own.

It runs on the Audit Branch's machine with its own state (a SQLite file and an Ed25519 key that
``ledger witness init`` created) and never opens the ledger's database: it sees only what a log
sends it, ``POST /add-checkpoint`` (https://c2sp.org/tlog-witness), and answers with
``cosignature/v1`` lines (https://c2sp.org/tlog-cosignature) after checking the log's signature
under a pinned log key and an RFC 6962 consistency proof from the size it cosigned last.

Modules: :mod:`witness.errors` (each refusal and its HTTP status), :mod:`witness.keys` (the
witness's own key file), :mod:`witness.protocol` (the request and response formats),
:mod:`witness.store` (the state file), :mod:`witness.service` (the checks, in the
specification's order), :mod:`witness.app` (the ASGI application) and :mod:`witness.cli` (the
``ledger witness init|serve|status`` commands). It imports of the ledger only
``ledger.errors``, ``ledger.crypto`` and the formats of ``ledger.log`` (docs/design.md, map of
the code).
"""

"""Read models of the ledger (docs/design.md §4): pure folds of the log evaluated at a date.

``state`` folds entries into the library state; ``views`` evaluates it at a date into the five
projections with their state hashes; ``replay`` recomputes any of them as known at any moment;
``runner`` keeps the persisted read model (``store_sqlite``/``store_postgres``) up to date.
"""

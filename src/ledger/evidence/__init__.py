"""Checking and proving: whole-ledger verification and offline evidence bundles."""

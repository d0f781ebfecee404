"""The collaborators the Ledger application service delegates to."""

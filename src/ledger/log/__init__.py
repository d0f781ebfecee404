"""The log: canonical bytes, entries, sealing, Merkle tree, checkpoints, witnesses, storage port."""

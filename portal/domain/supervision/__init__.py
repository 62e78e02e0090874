"""Supervision: the ledger, running counts, listings, urging, bulletins, review."""

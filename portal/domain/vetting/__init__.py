"""The moderators' vetting of tips: accept, merge, reject, redact, duplicates."""

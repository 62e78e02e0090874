"""Staff accounts, sign-in, permissions, partner API keys and the audit trail."""

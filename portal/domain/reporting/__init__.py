"""How a resident's report comes in and what the reporter is told."""

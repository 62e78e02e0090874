"""Issue 22: see portal.domain.inspection (this part's screens are added here)."""

"""Issue 22: see portal.domain.inspection (this part's public pages are added here)."""

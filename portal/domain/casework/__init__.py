"""A case's life: routing, the workflow, time limits and notifications."""

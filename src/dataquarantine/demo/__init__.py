"""DataQuarantine."""

"""kb assistant."""

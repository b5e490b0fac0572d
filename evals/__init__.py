"""kb evals."""

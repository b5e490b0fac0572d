"""kb ingest."""

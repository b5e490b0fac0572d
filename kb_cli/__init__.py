"""kb kb_cli."""

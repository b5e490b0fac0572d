"""The only code that runs SQL on kb's databases: the index catalog and the state DB."""

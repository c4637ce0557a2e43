"""Route tables, one module per API face."""

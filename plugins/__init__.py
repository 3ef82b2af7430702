"""Rallypoint's built-in plugins (analyses), loaded through the same entry points as outside ones."""

"""Built-in profiles of the coverage plugin (TOML files)."""

"""The survey plugin's built-in profiles of the fields a resource survey asks for (TOML data)."""

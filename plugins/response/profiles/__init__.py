"""The response sheet plugin's built-in profiles, as TOML data (read by ``rallypoint_plugins.response.plugin``)."""

"""The capacity plugin's built-in profiles, as TOML data (read by ``rallypoint_plugins.capacity.plugin``)."""

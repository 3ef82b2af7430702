"""Shelter capacity analysis: places against the people to shelter, occupancy, stock and teams per area.

``rallypoint analyse capacity REGISTRY`` (see :mod:`.analysis` for the parameters). The plugin's
hooks are in :mod:`.plugin`; its standards, needs and displacement rates are TOML data in
``profiles/``. Modules are imported lazily: listing plugins does not load pandas or matplotlib.
"""

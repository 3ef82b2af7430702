"""Rallypoint's QGIS plugin: a thin adapter over the core (built in its own issue)."""

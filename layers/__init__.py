"""Layer definitions (TOML) and default QGIS styles (QML) of Rallypoint, as data."""

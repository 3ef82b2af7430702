"""OGC API – Tiles and the map: tile matrix sets, tilesets, TileJSON and tiles (:mod:`.tilesets`), the map page
(:mod:`.mappage`) and its MapLibre style, drawn from the layers' QGIS styles (:mod:`.mapstyle`)."""

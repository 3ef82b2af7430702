"""Exchange between bureaus: export a subset as a GeoPackage, import files, diff and merge registries.

* :mod:`.export` — ``export_registry``: a snapshot (SQLite backup API) cut down to a subset, personal
  data left out unless asked, checked (:mod:`.export_check`), with a checksum manifest (:mod:`.manifest`).
* :mod:`.readers`, :mod:`.gpkg_strict` — reading GeoPackage (strictly, through ``sqlite3``), GeoJSON,
  Shapefile, CSV and plugin formats into plain records.
* :mod:`.mapping` — mapping profiles (data, kind ``import_mapping``) from foreign fields to a layer.
* :mod:`.importer` → :mod:`.plan` — ``plan_import``: each source feature matched on its stable UUID
  (:mod:`.matching`) as insert, update, retire, restore, unchanged or refused, with the reason.
* :mod:`.apply` — ``apply_import`` through ``Registry.batch``: all or nothing, or quarantine.
* :mod:`.diff`, :mod:`.merge` — changes between two registries or exports keyed on UUID, and a
  three-way merge that keeps both versions of a conflict (``rp_conflicts``).
"""

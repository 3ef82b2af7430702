"""Thinning of a PostGIS point layer precomputed, so a low-zoom tile reads only the points it draws.

Tiles below the detail zoom keep one point per cell of a grid over the tile: the lowest fid of each
cell of the 256 × 256 grid, the grid halved until the tile holds at most ``MAX_POINTS`` of them
(:mod:`.tiles`, as the GeoPackage's tiles do). Those grids are the cells of the Web Mercator pyramid:
a tile of zoom ``z`` cut into 2^k × 2^k cells is cut along the cells of *level* ``z + k``. So one number
per point says everything a low zoom needs: its **level**, the coarsest level at which it is the lowest
fid of its cell. A point first in its cell at level L is first at every finer level too (its finer cell
holds fewer points), so the points a tile keeps at level L are exactly those of level ≤ L, and the tile
counts its points per level to choose L. Computed once, kept current by the layer's triggers.

Each point layer has a companion table ``rp_points_<layer>``: the fid, the level, the cell at level 19
(``cx``, ``cy``: integers; a cell at level L is ``(cx >> (19 - L), cy >> (19 - L))``, so a tile of zoom
``z < 20`` is ``cx >> (19 - z) = x``, the same half-open edges as the tiles), and the point already in
EPSG:3857 (no projection per tile) as PostgreSQL's own ``point`` type with a GiST index: not a PostGIS
geometry, so QGIS and ``geometry_columns`` never take the table for a layer. Only points in use (not retired) with a geometry are in it. Levels go
to 19 (tiles below zoom 12 use levels up to 19); a point first nowhere up to 19 has level 20. Partial GiST
indexes (level ≤ 11, 14, 17) let a tile of zoom ``z`` read only points of level ≤ z + 8.

The triggers are statement-level with transition tables: an edit of a few features updates the levels
of the few points whose cells they share (a point added: at most one point demoted per level; a point
removed: at most one promoted per level); a large statement (a COPY, a reference layer loaded whole)
rebuilds the table in a few set-wise passes (the firsts of level 19, then of each coarser level among
them). Writers of one layer take a transaction-level advisory lock while they change it, so two
transactions adding points to the same cell cannot both believe they are first. They run with the
owner's rights (SECURITY DEFINER), as the history's trigger does: editors read the table, never write it.
"""

from __future__ import annotations

from ...schema import LayerDef

TOP_LEVEL = 19  # the finest level kept (tiles of zoom < 12 use levels ≤ 19)
NONE = TOP_LEVEL + 1  # a point first in no cell up to TOP_LEVEL
PARTIAL_LEVELS = (11, 14, 17)  # partial GiST indexes: a tile of zoom z reads the smallest one ≥ z + 8
REBUILD_OVER = 1000  # a statement changing more features than this rebuilds the table


def side_table(layer: str) -> str:
    return f"rp_points_{layer}"


def applies(layer: LayerDef) -> bool:
    """Whether the layer's tiles thin points (a layer of single points; classes hidden by zoom are not thinned
    this way, and no point layer has them)."""
    return layer.has_geometry and layer.geometry == "Point" and layer.tiles.class_field is None


# The functions, once per registry (schema.create_registry_tables). O = half the Mercator square's side;
# W = its side; 524288 = 2^19 cells a side at level 19.
FUNCTIONS = r"""
CREATE FUNCTION rp_points_cell(p point, OUT cx integer, OUT cy integer) LANGUAGE sql IMMUTABLE AS $$
  SELECT least(greatest(floor((p[0] + 20037508.342789244) / 40075016.685578488 * 524288)::integer, 0), 524287),
         least(greatest(floor((20037508.342789244 - p[1]) / 40075016.685578488 * 524288)::integer, 0), 524287) $$;

-- a point of the layer (EPSG:4490) as the table keeps it: EPSG:3857, latitudes within the projection's range
CREATE FUNCTION rp_points_xy(g geometry) RETURNS point LANGUAGE sql IMMUTABLE AS $$
  SELECT point(ST_X(m), ST_Y(m)) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(ST_X(g),
    least(greatest(ST_Y(g), -85.0511287798066), 85.0511287798066)), 4490), 3857) AS m) t $$;

-- the box of the level-L cell holding level-19 cell (cx, cy), in EPSG:3857
CREATE FUNCTION rp_points_box(lvl integer, cx integer, cy integer) RETURNS box LANGUAGE sql IMMUTABLE AS $$
  SELECT box(point(-20037508.342789244 + (cx >> (19 - lvl)) * s, 20037508.342789244 - ((cy >> (19 - lvl)) + 1) * s),
             point(-20037508.342789244 + ((cx >> (19 - lvl)) + 1) * s, 20037508.342789244 - (cy >> (19 - lvl)) * s))
  FROM (SELECT 40075016.685578488 / (1 << lvl) AS s) k $$;

-- the lowest fid of the level-L cell of (cx, cy) among rows of level <= max_lvl, but `but`
CREATE FUNCTION rp_points_first(side text, lvl integer, cx integer, cy integer, max_lvl integer, but bigint)
RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE found bigint;
BEGIN
  EXECUTE format('SELECT fid FROM %I WHERE p <@ $1 AND (cx >> %s) = ($2 >> %s) AND (cy >> %s) = ($3 >> %s)'
                 ' AND lvl <= %s AND fid <> $4 ORDER BY fid LIMIT 1',
                 side, 19 - lvl, 19 - lvl, 19 - lvl, 19 - lvl, max_lvl)
    INTO found USING rp_points_box(lvl, cx, cy), cx, cy, but;
  RETURN found;
END $$;

CREATE FUNCTION rp_points_add(side text, new_fid bigint, g geometry) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  p point := rp_points_xy(g);
  c record := rp_points_cell(p);
  other bigint;
BEGIN
  EXECUTE format('INSERT INTO %I (fid, lvl, cx, cy, p) VALUES ($1, 20, $2, $3, $4)', side)
    USING new_fid, c.cx, c.cy, p;
  FOR l IN REVERSE 19..0 LOOP
    other := rp_points_first(side, l, c.cx, c.cy, l, new_fid);  -- the cell's first until now
    EXIT WHEN other IS NOT NULL AND other < new_fid;            -- it stays first here and coarser
    EXECUTE format('UPDATE %I SET lvl = $1 WHERE fid = $2', side) USING l, new_fid;
    IF other IS NOT NULL THEN                                     -- still first in its own finer cell
      EXECUTE format('UPDATE %I SET lvl = $1 WHERE fid = $2', side) USING l + 1, other;
    END IF;
  END LOOP;
END $$;

CREATE FUNCTION rp_points_remove(side text, old_fid bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record;
  next_first bigint;
BEGIN
  EXECUTE format('DELETE FROM %I WHERE fid = $1 RETURNING lvl, cx, cy', side) INTO r USING old_fid;
  IF r IS NULL OR r.lvl > 19 THEN RETURN; END IF;
  FOR l IN REVERSE 19..r.lvl LOOP  -- it was first at every level from its own to 19: each cell gets a new first
    next_first := rp_points_first(side, l, r.cx, r.cy, l + 1, old_fid);
    IF next_first IS NOT NULL THEN
      EXECUTE format('UPDATE %I SET lvl = least(lvl, $1) WHERE fid = $2', side) USING l, next_first;
    END IF;
  END LOOP;
END $$;

-- every point of the layer afresh: the firsts of each level-19 cell, then of each coarser level among those
-- (a cell's first is the lowest of its four subcells' firsts), each point's level the coarsest it is first at
CREATE FUNCTION rp_points_rebuild(layer text, versioned boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  side text := 'rp_points_' || layer;
BEGIN
  DROP TABLE IF EXISTS rp_points_all, rp_points_levels, rp_points_firsts, rp_points_coarser;
  EXECUTE format('CREATE TEMP TABLE rp_points_all ON COMMIT DROP AS SELECT fid, (c).cx, (c).cy, p FROM '
                 '(SELECT fid, p, rp_points_cell(p) AS c FROM (SELECT fid, rp_points_xy(geom) AS p FROM %I '
                 'WHERE geom IS NOT NULL AND NOT ST_IsEmpty(geom)%s) a) b',
                 layer, CASE WHEN versioned THEN ' AND retired_at IS NULL' ELSE '' END);
  CREATE TEMP TABLE rp_points_levels (fid bigint, lvl smallint) ON COMMIT DROP;
  CREATE TEMP TABLE rp_points_firsts ON COMMIT DROP AS
    SELECT DISTINCT ON (cx, cy) fid, cx, cy FROM rp_points_all ORDER BY cx, cy, fid;
  INSERT INTO rp_points_levels SELECT fid, 19 FROM rp_points_firsts;
  FOR l IN REVERSE 18..0 LOOP
    CREATE TEMP TABLE rp_points_coarser ON COMMIT DROP AS
      SELECT DISTINCT ON (cx >> 1, cy >> 1) fid, cx >> 1 AS cx, cy >> 1 AS cy FROM rp_points_firsts
      ORDER BY cx >> 1, cy >> 1, fid;
    DROP TABLE rp_points_firsts;
    ALTER TABLE rp_points_coarser RENAME TO rp_points_firsts;
    INSERT INTO rp_points_levels SELECT fid, l FROM rp_points_firsts;
  END LOOP;
  EXECUTE format('DELETE FROM %I', side);
  EXECUTE format('INSERT INTO %I (fid, lvl, cx, cy, p) SELECT a.fid, coalesce(m.lvl, 20), a.cx, a.cy, a.p '
                 'FROM rp_points_all a LEFT JOIN (SELECT fid, min(lvl) AS lvl FROM rp_points_levels GROUP BY fid) m '
                 'ON m.fid = a.fid', side);
  DROP TABLE rp_points_all, rp_points_levels, rp_points_firsts;
  EXECUTE format('ANALYZE %I', side);
END $$;

-- the statement trigger: what the statement changed, and the levels it moves
CREATE FUNCTION rp_points_sync() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  side text := 'rp_points_' || TG_TABLE_NAME;
  versioned boolean := TG_ARGV[0] = 'versioned';
  in_use text := CASE WHEN versioned THEN ' AND n.retired_at IS NULL' ELSE '' END;
  changed bigint;
  r record;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext(side));
  IF TG_OP = 'INSERT' THEN
    EXECUTE 'SELECT count(*) FROM new_rows' INTO changed;
  ELSE
    EXECUTE 'SELECT count(*) FROM old_rows' INTO changed;
  END IF;
  IF changed > 1000 THEN
    PERFORM rp_points_rebuild(TG_TABLE_NAME, versioned);
    RETURN NULL;
  END IF;
  -- points that leave, or move: their old place is given up first
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    FOR r IN EXECUTE format(
        'SELECT o.fid FROM old_rows o JOIN %I s ON s.fid = o.fid%s', side,
        CASE WHEN TG_OP = 'DELETE' THEN '' ELSE
          format(' LEFT JOIN new_rows n ON n.fid = o.fid WHERE n.fid IS NULL OR n.geom IS NULL OR ST_IsEmpty(n.geom)'
                 ' OR NOT (rp_points_xy(n.geom) ~= s.p)%s',
                 CASE WHEN versioned THEN ' OR n.retired_at IS NOT NULL' ELSE '' END) END)
    LOOP
      PERFORM rp_points_remove(side, r.fid);
    END LOOP;
  END IF;
  -- points that arrive, come back (restored) or moved: their new place, in fid order
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    FOR r IN EXECUTE format(
        'SELECT n.fid, n.geom FROM new_rows n LEFT JOIN %I s ON s.fid = n.fid WHERE s.fid IS NULL'
        ' AND n.geom IS NOT NULL AND NOT ST_IsEmpty(n.geom)%s ORDER BY n.fid', side, in_use)
    LOOP
      PERFORM rp_points_add(side, r.fid, r.geom);
    END LOOP;
  END IF;
  RETURN NULL;
END $$;
"""

FUNCTION_NAMES = ("rp_points_cell(point)", "rp_points_xy(geometry)", "rp_points_box(integer, integer, integer)",
                  "rp_points_first(text, integer, integer, integer, integer, bigint)",
                  "rp_points_add(text, bigint, geometry)", "rp_points_remove(text, bigint)",
                  "rp_points_rebuild(text, boolean)", "rp_points_sync()")


def layer_ddl(layer: LayerDef, editor_role: str, qi) -> list[str]:
    """The companion table of a point layer, its indexes and the triggers that keep it current."""
    if not applies(layer):
        return []
    side, t = qi(side_table(layer.name)), qi(layer.name)
    out = [f"CREATE TABLE {side} (fid bigint PRIMARY KEY, lvl smallint NOT NULL, cx integer NOT NULL, "
           f"cy integer NOT NULL, p point NOT NULL)",
           f"COMMENT ON TABLE {side} IS 'Rallypoint: the thinning levels of {layer.name}''s points for vector "
           f"tiles, kept by triggers (not a layer)'",
           f"CREATE INDEX {qi(side_table(layer.name) + '_p')} ON {side} USING gist (p)"]
    for lvl in PARTIAL_LEVELS:
        out.append(f"CREATE INDEX {qi(f'{side_table(layer.name)}_p{lvl}')} ON {side} USING gist (p) "
                   f"WHERE lvl <= {lvl}")
    out.append(f"GRANT SELECT ON {side} TO {editor_role}")
    kind = "'versioned'" if layer.versioned else "'reference'"
    for name, event, refs in (("rp_points_insert", "INSERT", "NEW TABLE AS new_rows"),
                              ("rp_points_update", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                              ("rp_points_delete", "DELETE", "OLD TABLE AS old_rows")):
        out.append(f"CREATE TRIGGER {name} AFTER {event} ON {t} REFERENCING {refs} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION rp_points_sync({kind})")
    return out


def rebuild_sql(layer: LayerDef, qi) -> str:
    """The statement that computes every level of a layer afresh (after a load with its triggers disabled)."""
    return f"SELECT rp_points_rebuild({_literal(layer.name)}, {'true' if layer.versioned else 'false'})"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def partial_level(level: int) -> int | None:
    """The partial index a read of points of level ≤ ``level`` can use (None: the full index)."""
    return next((p for p in PARTIAL_LEVELS if level <= p), None)

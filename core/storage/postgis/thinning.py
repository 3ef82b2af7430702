"""Thinning of a PostGIS point layer precomputed, so a low-zoom tile reads only the points it draws.

Tiles below the detail zoom keep one point per cell of a grid over the tile: the lowest fid of each
cell of the 256 × 256 grid, the grid halved until the tile holds at most ``MAX_POINTS`` of them
(:mod:`.tiles`, as the GeoPackage's tiles do). Those grids are the cells of the Web Mercator pyramid:
a tile of zoom ``z`` cut into 2^k × 2^k cells is cut along the cells of *level* ``z + k``. So one number
per point says everything a low zoom needs: its **level**, the coarsest level at which it is the lowest
fid of its cell. A point first in its cell at level L is first at every finer level too (its finer cell
holds fewer points), so the points a tile keeps at level L are exactly those of level ≤ L, and the tile
counts its points per level to choose L. Computed once, kept current by the layer's triggers.

Each point layer has a companion table ``rp_points_<layer>``: the fid, the level, the point's **key** (its
cell at level 19, column and row interleaved bit by bit: a Morton code, so every cell of a coarser level and
every tile of zoom ``z < 20`` is one range of keys, with the tiles' own half-open edges) and the point already
in EPSG:3857 as two numbers (no projection per tile; no PostGIS geometry, so QGIS and ``geometry_columns``
never take the table for a layer). Only points in use (not retired) with a geometry are in it. Levels go to
19 (tiles below zoom 12 use levels up to 19); a point first nowhere up to 19 has level 20. One B-tree on
(level, key) answers everything: a tile reads, for each level ≤ z + 8, one range of keys — exactly the rows
it needs, however many points the tile holds.

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
-- the level-19 Morton key of a point (EPSG:3857): its cell's column and row (2^19 a side, rows from the top)
-- with their bits interleaved, so any cell of a coarser level, and any tile, is one range of keys
CREATE FUNCTION rp_points_spread(v bigint) RETURNS bigint LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN  -- the bits of v (below 2^32) moved to the even places: 0x0000FFFF0000FFFF … 0x5555555555555555
  v := (v | (v << 16)) & 281470681808895;
  v := (v | (v << 8)) & 71777214294589695;
  v := (v | (v << 4)) & 1085102592571150095;
  v := (v | (v << 2)) & 3689348814741910323;
  RETURN (v | (v << 1)) & 6148914691236517205;
END $$;

CREATE FUNCTION rp_points_interleave(cx bigint, cy bigint) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT rp_points_spread(cx) | (rp_points_spread(cy) << 1) $$;

CREATE FUNCTION rp_points_key(x double precision, y double precision) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT rp_points_interleave(
    least(greatest(floor((x + 20037508.342789244) / 40075016.685578488 * 524288), 0), 524287)::bigint,
    least(greatest(floor((20037508.342789244 - y) / 40075016.685578488 * 524288), 0), 524287)::bigint) $$;

-- a point of the layer (EPSG:4490) as the table keeps it: EPSG:3857, latitudes within the projection's range
CREATE FUNCTION rp_points_xy(g geometry, OUT x double precision, OUT y double precision) LANGUAGE sql IMMUTABLE AS $$
  SELECT ST_X(m), ST_Y(m) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(ST_X(g),
    least(greatest(ST_Y(g), -85.0511287798066), 85.0511287798066)), 4490), 3857) AS m) t $$;

-- the lowest fid of the level-L cell holding key k, among rows of level <= max_lvl, but `but`: one range of
-- keys per level in the (lvl, k) index; an L-cell holds at most four rows of level <= L + 1 (its quarters' firsts)
CREATE FUNCTION rp_points_first(side text, lvl integer, k bigint, max_lvl integer, but bigint)
RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE
  found bigint;
  lo bigint := (k >> (2 * (19 - lvl))) << (2 * (19 - lvl));
BEGIN
  EXECUTE format('SELECT fid FROM %I WHERE lvl = ANY($1) AND k >= $2 AND k < $3 AND fid <> $4 ORDER BY fid LIMIT 1',
                 side)
    INTO found USING ARRAY(SELECT generate_series(0, max_lvl)::smallint), lo, lo + (1::bigint << (2 * (19 - lvl))), but;
  RETURN found;
END $$;

CREATE FUNCTION rp_points_add(side text, new_fid bigint, g geometry) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  p record := rp_points_xy(g);
  key bigint := rp_points_key(p.x, p.y);
  other bigint;
BEGIN
  EXECUTE format('INSERT INTO %I (fid, lvl, k, x, y) VALUES ($1, 20, $2, $3, $4)', side) USING new_fid, key, p.x, p.y;
  FOR l IN REVERSE 19..0 LOOP
    other := rp_points_first(side, l, key, l, new_fid);   -- the cell's first until now
    EXIT WHEN other IS NOT NULL AND other < new_fid;        -- it stays first here and coarser
    EXECUTE format('UPDATE %I SET lvl = $1 WHERE fid = $2', side) USING l, new_fid;
    IF other IS NOT NULL THEN                                 -- still first in its own finer cell
      EXECUTE format('UPDATE %I SET lvl = $1 WHERE fid = $2', side) USING l + 1, other;
    END IF;
  END LOOP;
END $$;

CREATE FUNCTION rp_points_remove(side text, old_fid bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record;
  next_first bigint;
BEGIN
  EXECUTE format('DELETE FROM %I WHERE fid = $1 RETURNING lvl, k', side) INTO r USING old_fid;
  IF r IS NULL OR r.lvl > 19 THEN RETURN; END IF;
  FOR l IN REVERSE 19..r.lvl LOOP  -- it was first at every level from its own to 19: each cell gets a new first
    next_first := rp_points_first(side, l, r.k, l + 1, old_fid);
    IF next_first IS NOT NULL THEN
      EXECUTE format('UPDATE %I SET lvl = least(lvl, $1) WHERE fid = $2', side) USING l, next_first;
    END IF;
  END LOOP;
END $$;

-- every point of the layer afresh: the firsts of each level-19 cell, then of each coarser level among those
-- (a cell's first is the lowest of its four quarters' firsts), each point's level the coarsest it is first at
CREATE FUNCTION rp_points_rebuild(layer text, versioned boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  side text := 'rp_points_' || layer;
BEGIN
  DROP TABLE IF EXISTS rp_points_all, rp_points_levels, rp_points_firsts, rp_points_coarser;
  EXECUTE format('CREATE TEMP TABLE rp_points_all ON COMMIT DROP AS SELECT fid, rp_points_key((p).x, (p).y) AS k, '
                 '(p).x AS x, (p).y AS y FROM (SELECT fid, rp_points_xy(geom) AS p FROM %I '
                 'WHERE geom IS NOT NULL AND NOT ST_IsEmpty(geom)%s) a',
                 layer, CASE WHEN versioned THEN ' AND retired_at IS NULL' ELSE '' END);
  CREATE TEMP TABLE rp_points_levels (fid bigint, lvl smallint) ON COMMIT DROP;
  CREATE TEMP TABLE rp_points_firsts ON COMMIT DROP AS
    SELECT DISTINCT ON (k) fid, k FROM rp_points_all ORDER BY k, fid;
  INSERT INTO rp_points_levels SELECT fid, 19 FROM rp_points_firsts;
  FOR l IN REVERSE 18..0 LOOP
    CREATE TEMP TABLE rp_points_coarser ON COMMIT DROP AS
      SELECT DISTINCT ON (k >> 2) fid, k >> 2 AS k FROM rp_points_firsts ORDER BY k >> 2, fid;
    DROP TABLE rp_points_firsts;
    ALTER TABLE rp_points_coarser RENAME TO rp_points_firsts;
    INSERT INTO rp_points_levels SELECT fid, l FROM rp_points_firsts;
  END LOOP;
  -- the (lvl, k) index is built once after the rows go in, not grown row by row
  EXECUTE format('DROP INDEX IF EXISTS %I', side || '_lvl_k');
  EXECUTE format('DELETE FROM %I', side);
  EXECUTE format('INSERT INTO %I (fid, lvl, k, x, y) SELECT a.fid, coalesce(m.lvl, 20), a.k, a.x, a.y '
                 'FROM rp_points_all a LEFT JOIN (SELECT fid, min(lvl) AS lvl FROM rp_points_levels GROUP BY fid) m '
                 'ON m.fid = a.fid', side);
  EXECUTE format('CREATE INDEX %I ON %I (lvl, k)', side || '_lvl_k', side);
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
                 ' OR (rp_points_xy(n.geom)).x <> s.x OR (rp_points_xy(n.geom)).y <> s.y%s',
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

FUNCTION_NAMES = ("rp_points_spread(bigint)", "rp_points_interleave(bigint, bigint)",
                  "rp_points_key(double precision, double precision)", "rp_points_xy(geometry)",
                  "rp_points_first(text, integer, bigint, integer, bigint)",
                  "rp_points_add(text, bigint, geometry)", "rp_points_remove(text, bigint)",
                  "rp_points_rebuild(text, boolean)", "rp_points_sync()")


def layer_ddl(layer: LayerDef, editor_role: str, qi) -> list[str]:
    """The companion table of a point layer, its indexes and the triggers that keep it current."""
    if not applies(layer):
        return []
    side, t = qi(side_table(layer.name)), qi(layer.name)
    out = [f"CREATE TABLE {side} (fid bigint PRIMARY KEY, lvl smallint NOT NULL, k bigint NOT NULL, "
           f"x double precision NOT NULL, y double precision NOT NULL)",
           f"COMMENT ON TABLE {side} IS 'Rallypoint: the thinning levels of {layer.name}''s points for vector "
           f"tiles, kept by triggers (not a layer)'",
           f"CREATE INDEX {qi(side_table(layer.name) + '_lvl_k')} ON {side} (lvl, k)"]
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


def key_range(z: int, x: int, y: int) -> tuple[int, int]:
    """The tile ``z/x/y`` (z ≤ 19) as the range [lo, hi) of level-19 keys its points hold."""
    shift = TOP_LEVEL - z
    lo = _interleave(x << shift, y << shift)
    return lo, lo + (1 << (2 * shift))


def _interleave(cx: int, cy: int) -> int:
    """The Morton key of a cell (as the database's ``rp_points_interleave``): column bits at even places."""
    out = 0
    for bit in range(TOP_LEVEL):
        out |= ((cx >> bit) & 1) << (2 * bit) | ((cy >> bit) & 1) << (2 * bit + 1)
    return out

"""Benchmark: 10 million hazard points in PostGIS, served by Rallypoint and by tipg 1.6, side by side.

What it measures (issue 7): bbox pages of 100 hazard points and vector tiles at zoom 6, 10 and
14 of a PostGIS registry holding ``--points`` hazard points (10,000,000 by default), served by
``rallypoint serve postgresql://…`` under gunicorn and by tipg 1.6 (FastAPI, asyncpg) under
uvicorn, each with 2 and then 4 workers, on the same database in the same run. It prints
requests/s, p50 and p99 (the load generator's latencies) per kind of request and the ratios
Rallypoint / tipg, the load time, and the servers' memory (peak RSS and PSS of all their processes).

The database: a throwaway PostgreSQL 15 + PostGIS cluster on 127.0.0.1 (tests/pg_support.py), in
a folder under the system's temporary folder that is kept between runs with ``--keep`` (loading
10M points takes minutes; a later run finds the loaded database and reuses it), or ``--url`` of
an existing database. The registry is made by ``Registry.create``; the points are synthetic but
valid under the hazard_points definition (a sample of each chunk is checked with the registry's
own validation): a Sichuan-sized province of 180 counties and about 3,600 townships with
9-digit division codes and Chinese names, points clustered around the townships (a few scattered
in the hills), in random physical order as records entered over the years would be. They are
loaded with COPY (CSV with hex EWKB) with the layer's row triggers disabled for that one
transaction (they would write 10M history rows: the load is recorded as one ``load`` entry in
rp_history instead, as reference layers' bulk loads are) and its indexes dropped, then the
indexes (GiST on geom, uuid, adcode) are built and the table is vacuumed and analysed.

Like with like:

* the same random requests, drawn with the same seed: boxes 0.02–0.08° (2–8 km, a town on a
  screen) around random points, ``limit=100``; tiles holding random points at each zoom;
* anonymous requests: Rallypoint leaves personal fields out; tipg is asked for the same
  properties (``properties=…``: the non-personal fields for items, the layer's tile fields at
  zooms under its detail zoom) and for the same features (``filter=retired_at IS NULL``);
* both count ``numberMatched`` for every page (tipg with COUNT(*));
* Rallypoint's per-worker tile cache is switched off (tipg has none): every tile is made by
  the database on both sides (``--tile-cache`` keeps it on).

Differences that remain: under zoom 12, and beyond 2,000 points in a tile, Rallypoint thins points
to one per cell of a grid (below zoom 12 from the levels the triggers keep, core/storage/postgis/thinning.py,
reading only the points it draws; from zoom 12 by one pass over the tile's points), where tipg stops at
its first 10,000 features (``TIPG_MAX_FEATURES_PER_TILE``: an arbitrary subset); Rallypoint keeps
encoded features of recent pages per worker (its GeoJSON cache), tipg re-encodes every page. The load
disables the layer's triggers, so it computes the thinning levels in one set-wise pass afterwards.

The load generator is bench/api_bbox.py's (Debian's ``wrk`` with a Lua script; ``make bench-tools``
installs it), in alternating rounds (Rallypoint, tipg, Rallypoint, …) so that a shared,
noisy machine affects both alike. tipg runs from a virtual environment of its own made on first
use under ~/.cache/rallypoint-bench/tipg.

    python bench/pg_10m.py --points 200000 --duration 10 --keep   # a quick run (load ~10 s)
    python bench/pg_10m.py --keep                                 # 10M points (load ~10 min once)
    python bench/pg_10m.py --url postgresql://me@db.example/bench   # an existing database
    python bench/pg_10m.py --load-only --keep                     # just make the database

Measured on the 2-CPU development machine, shared with other work (so absolute rates are low; the
ratios are what the alternating rounds make comparable), 10M points (4.9 GB with indexes, loaded in
15 min): bbox pages 33 vs 5.1 requests/s with 2 workers (ratio 6.4) and 52 vs 6.0 with 4 (8.9), once
each Rallypoint worker has built its grid of counts (24 s over 10M rows, per worker and layer state);
tiles at zoom 14 37 vs 52 (0.95 with 4 workers), zoom 10 4.4 vs 5.2 (1.1), zoom 6 0.2 vs 2.6 (0.1):
a zoom-6 tile over 7M points takes Rallypoint 4-30 s (it thins every point), tipg 2-3 s (it stops at
10,000 points, 1 MB, where Rallypoint's thinned tile is 57 KB). numberMatched differs by about 1 in
1,000: Rallypoint counts with ``&&`` (float32 boxes, as a GeoPackage's R-tree), tipg with ST_Intersects.

With the thinning levels precomputed (issue 19; the same machine, loaded by other work at a load average of
10-16, so rates are lower still and only the ratios hold; 4 rounds of 5 s): zoom 6 14.1 vs 2.0 requests/s
with 2 workers (8.9) and 16.2 vs 1.4 with 4 (13.4); zoom 10 10.6 vs 4.7 (2.8) and 9.8 vs 2.4 (4.2); zoom 14
(unchanged path) 0.8 and 1.2; bbox pages 4.4 and 4.4. The levels of 10M points took 331-900 s to compute
after the load (1184 MB with their index).
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from api_bbox import free_port, require_wrk, run_python_client, run_wrk, stop, wait_until_up  # noqa: E402

LAYER = "hazard_points"
EXTENT = (97.4, 26.1, 108.5, 34.2)  # about Sichuan's: a province-sized extent in EPSG:4490
LOADER = "bench-loader"
ZOOMS = (6, 10, 14)
SIDE = {"rallypoint": 0, "tipg": 1}  # which of a request set's path lists a server gets
TIPG = "tipg==1.6.*"
TIPG_ID = f"public.{LAYER}"


# -- the synthetic province and its hazard points ---------------------------------------------------

class Province:
    """Counties and townships: centres, weights (how many points they draw) and names, from a seed."""

    def __init__(self, rng: np.random.Generator, counties: int = 180) -> None:
        from rallypoint.sample_data.names import _place_names

        x0, y0, x1, y1 = EXTENT
        basin = rng.random(counties) < 0.7  # most counties in the eastern basin, the rest in the highlands
        cx = np.where(basin, rng.uniform(103.0, 107.8, counties), rng.uniform(x0 + 0.5, 103.0, counties))
        cy = np.where(basin, rng.uniform(28.4, 32.2, counties), rng.uniform(y0 + 0.5, y1 - 0.5, counties))
        county_w = rng.lognormal(0, 0.8, counties) * np.where(basin, 1.0, 0.35)
        county_names = [n + ("区" if i % 7 == 0 else "县") for i, n in enumerate(_place_names(rng, counties))]
        xs, ys, ws, codes, names = [], [], [], [], []
        town_names = _place_names(rng, 20 * counties)
        k = 0
        for c in range(counties):
            code = f"51{1 + c // 12:02d}{1 + c % 12:02d}"  # province 51, prefecture, county: GB/T 2260's form
            for t in range(int(rng.integers(10, 31))):
                xs.append(cx[c] + rng.normal(0, 0.12))
                ys.append(cy[c] + rng.normal(0, 0.10))
                ws.append(county_w[c] * rng.lognormal(0, 1.0) * (4.0 if t == 0 else 1.0))  # the county seat
                codes.append(f"{code}{t + 1:03d}")
                names.append(county_names[c] + town_names[k % len(town_names)] + ("镇" if t % 3 else "乡"))
                k += 1
        self.x = np.clip(np.array(xs), x0, x1)
        self.y = np.clip(np.array(ys), y0, y1)
        w = np.array(ws)
        self.p = w / w.sum()
        self.spread = 0.008 + 0.02 * (w / w.max()) ** 0.3  # degrees: a bigger town spreads wider
        self.code = np.array(codes, dtype=object)
        self.name = np.array(names, dtype=object)


_TYPES = ["landslide", "rockfall", "debris_flow", "unstable_slope", "collapse", "ground_fissure", "subsidence",
          "major_hazard_installation", "flood_point", "fire_risk", "other"]
_TYPE_SHARE = [0.30, 0.10, 0.07, 0.06, 0.02, 0.01, 0.01, 0.03, 0.12, 0.22, 0.06]
_TYPE_ZH = ["滑坡隐患点", "崩塌隐患点", "泥石流沟", "不稳定斜坡", "地面塌陷点", "地裂缝", "地面沉降点", "重大危险源",
            "易涝点", "火灾隐患点", "其他隐患点"]
_GEO = 7  # the first seven are geohazards
_SCALES = np.array(["small", "medium", "large", "giant"], dtype=object)
_GRADES = np.array(["I", "II", "III", "IV"], dtype=object)
COLUMNS = ["geom", "uuid", "name", "adcode", "address", "source", "hazard_type", "volume_m3", "scale", "stability",
           "threatened_households", "threatened_people", "threatened_property", "risk_value_r", "danger_grade",
           "status", "monitor_name", "monitor_phone", "version", "created_at", "created_by", "updated_at",
           "updated_by", "retired_at"]


def _grade(values: np.ndarray, limits: tuple[float, float, float]) -> np.ndarray:
    """0 (I) … 3 (IV) by rallypoint.derive's thresholds (I ≥ limits[0], II ≥ limits[1], III ≥ limits[2])."""
    return 3 - np.searchsorted(np.array(limits[::-1]), values, side="right")


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    """Random version-4 UUIDs, 10M of them in seconds (uuid.UUID() per row takes half a minute)."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    h = raw.tobytes().hex()
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-{h[i + 12:i + 16]}-{h[i + 16:i + 20]}-{h[i + 20:i + 32]}"
            for i in range(0, 32 * n, 32)]


def hazard_chunk(prov: Province, rng: np.random.Generator, n: int, now: str):
    """``n`` hazard points as a DataFrame of the table's columns (``geom`` as hex EWKB)."""
    import pandas as pd
    import shapely

    from rallypoint.sample_data.names import _person_names, _phones

    town = rng.choice(len(prov.p), size=n, p=prov.p)
    scattered = rng.random(n) < 0.15  # in the hills, kilometres from the town
    sigma = np.where(scattered, 0.15, prov.spread[town])
    x0, y0, x1, y1 = EXTENT
    lon = np.clip(prov.x[town] + rng.normal(0, 1, n) * sigma, x0, x1)
    lat = np.clip(prov.y[town] + rng.normal(0, 1, n) * sigma * 0.9, y0, y1)
    t = rng.choice(len(_TYPES), size=n, p=np.array(_TYPE_SHARE) / sum(_TYPE_SHARE))
    geo, mhi = t < _GEO, t == _TYPES.index("major_hazard_installation")
    people = np.floor(rng.lognormal(np.log(12.0), 1.4, n)).astype(np.int64)
    people[geo] = np.floor(rng.lognormal(np.log(20.0), 1.3, int(geo.sum())))
    people[mhi] = np.floor(rng.lognormal(np.log(150.0), 1.2, int(mhi.sum())))
    households = np.maximum(np.round(people / rng.uniform(2.7, 3.4, n)), (people > 0).astype(float)).astype(np.int64)
    prop = np.round(people * rng.lognormal(np.log(5.0), 0.6, n), 1)
    r_value = np.round(rng.lognormal(np.log(6.0), 1.1, n), 2)
    volume = np.round(rng.lognormal(np.log(2e4), 1.5, n), 0)
    # danger grade: derived for geohazards and installations (rallypoint.derive's rules), else entered or not
    grade = np.minimum(_grade(people, (1000, 500, 100)), _grade(prop, (10000, 5000, 500)))
    grade = np.where(mhi, _grade(r_value, (100, 50, 10)), grade)
    entered = ~geo & ~mhi & (rng.random(n) < 0.3)
    danger = np.where(geo | mhi | entered, _GRADES[grade], None)
    status = np.array(["active", "monitoring", "rectified", "closed"], dtype=object)[
        rng.choice(4, size=n, p=[0.35, 0.35, 0.27, 0.03])]
    monitored = geo | (rng.random(n) < 0.4)
    seq = rng.integers(1, 400, n)
    type_zh = np.array(_TYPE_ZH, dtype=object)[t]
    retired = rng.random(n) < 0.005
    df = pd.DataFrame({
        "geom": shapely.to_wkb(shapely.set_srid(shapely.points(lon, lat), 4490), hex=True, include_srid=True),
        "uuid": _uuids(rng, n),
        "name": prov.name[town] + type_zh + seq.astype(str).astype(object) + "号",
        "adcode": prov.code[town],
        "address": prov.name[town] + rng.integers(1, 30, n).astype(str).astype(object) + "组",
        "source": np.where(geo, "省地质环境监测总站", "市应急管理局"),
        "hazard_type": np.array(_TYPES, dtype=object)[t],
        "volume_m3": np.where(geo, volume, np.nan),
        "scale": np.where(geo, _SCALES[np.searchsorted([1e5, 1e6, 1e7], volume)], None),
        "stability": np.where(geo, np.array(["stable", "less_stable", "unstable"], dtype=object)[
            rng.choice(3, size=n, p=[0.2, 0.6, 0.2])], None),
        "threatened_households": households,
        "threatened_people": people,
        "threatened_property": prop,
        "risk_value_r": np.where(mhi, r_value, np.nan),
        "danger_grade": danger,
        "status": status,
        "monitor_name": np.where(monitored, np.array(_person_names(rng, n), dtype=object), None),
        "monitor_phone": np.where(monitored, np.array(_phones(rng, n), dtype=object), None),
        "version": np.where(retired, 2, 1),
        "created_at": now, "created_by": LOADER, "updated_at": now, "updated_by": LOADER,
        "retired_at": np.where(retired, now, None),
    })
    return df[COLUMNS]


def check_chunk(df, layer, rng: np.random.Generator, k: int = 500) -> None:
    """The registry's own validation on ``k`` random rows: the generator must make valid points."""
    import shapely

    from rallypoint.validation import check_feature

    user = [f.name for f in layer.fields if not f.system and f.name in df.columns]  # assigned_shelter: none
    for i in rng.choice(len(df), size=min(k, len(df)), replace=False):
        row = df.iloc[int(i)]
        props = {c: (None if row[c] is None or (isinstance(row[c], float) and math.isnan(row[c])) else row[c])
                 for c in user}
        props = {c: (v.item() if hasattr(v, "item") else v) for c, v in props.items()}
        geom = shapely.from_wkb(row["geom"])
        checked = check_feature(layer, props, geom)
        if checked.problems:
            raise SystemExit(f"the generator made an invalid hazard point (row {i}): {checked.problems} {props}")
        if checked.properties.get("danger_grade") != props["danger_grade"] and props["danger_grade"] is not None:
            raise SystemExit(f"row {i}: danger_grade {props['danger_grade']} is not the derived "
                             f"{checked.properties.get('danger_grade')}")


def load_points(url: str, points: int, seed: int, chunk: int = 500_000) -> dict:
    """Create the registry at ``url`` and COPY ``points`` synthetic hazard points into it; timings."""
    from datetime import datetime, timezone

    import psycopg
    import shapely
    from psycopg import sql

    from rallypoint.frame_checks import load_record
    from rallypoint.storage.base import HISTORY_TABLE
    from rallypoint.storage.postgis import thinning
    from rallypoint.storage.postgis.schema import layer_ddl, qi
    from rallypoint.registry import Registry
    from rallypoint.schema import builtin_layers
    from rallypoint.validation import format_datetime

    t0 = time.perf_counter()
    Registry.create(url, name="隐患点基准库", bureau="基准测试", adcode="510000", overwrite=True).close()
    layer = builtin_layers()[LAYER]
    rng = np.random.default_rng(seed)
    prov = Province(rng)
    now = format_datetime(datetime(2026, 11, 1, tzinfo=timezone.utc))
    index_ddl = [s for s in layer_ddl(layer) if s.startswith(("CREATE INDEX", "CREATE UNIQUE INDEX"))]
    table = qi(LAYER)
    timings = {}
    with psycopg.connect(url, autocommit=True) as conn:  # transactions below where wanted; VACUUM outside any
        conn.execute("SET maintenance_work_mem = '1GB'")
        with conn.transaction():
            # The layer's row triggers stamp and historise each insert (10M history rows of JSON):
            # off for this transaction only, the rows stamped here and the load recorded once below.
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            for ddl in index_ddl:  # built once after the load, not updated 10M times
                conn.execute(f"DROP INDEX {ddl.split(' INDEX ', 1)[1].split(' ON ', 1)[0]}")
            checked = False
            lo, hi = np.array([180.0, 90.0]), np.array([-180.0, -90.0])
            done, gen_s = 0, 0.0
            columns = ", ".join(qi(c) for c in COLUMNS)
            with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                while done < points:
                    g0 = time.perf_counter()
                    n = min(chunk, points - done)
                    df = hazard_chunk(prov, rng, n, now)
                    if not checked:
                        check_chunk(df, layer, rng)
                        checked = True
                    elif done // chunk % 5 == 0:
                        check_chunk(df, layer, rng, 100)
                    xy = shapely.get_coordinates(shapely.from_wkb(df["geom"].to_numpy()[:: max(1, n // 1000)]))
                    lo, hi = np.minimum(lo, xy.min(0)), np.maximum(hi, xy.max(0))
                    buf = io.StringIO()
                    df.to_csv(buf, header=False, index=False, na_rep="")
                    gen_s += time.perf_counter() - g0
                    copy.write(buf.getvalue().encode())
                    done += n
                    print(f"  {done:,} / {points:,} points copied ({time.perf_counter() - t0:.0f} s)", flush=True)
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            load_id, summary = load_record(layer, points, False, shapely.points([lo, hi]))
            conn.execute(
                f"INSERT INTO {HISTORY_TABLE} (layer, uuid, version, op, author, at, before, after, note)"
                " VALUES (%s, %s, 1, 'load', %s, %s, NULL, %s::jsonb, %s)",
                (LAYER, load_id, LOADER, now, summary, f"bench/pg_10m.py: {points} synthetic points, seed {seed}"))
        timings["copy_s"] = time.perf_counter() - t0
        timings["generate_s"] = gen_s
        t1 = time.perf_counter()
        with conn.transaction():
            for ddl in index_ddl:
                conn.execute(ddl)
        timings["index_s"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        with conn.transaction():  # the points' thinning levels, which the disabled triggers did not keep
            conn.execute(thinning.rebuild_sql(layer, qi))
        timings["thinning_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        conn.execute(f"VACUUM (ANALYZE) {table}")
        timings["vacuum_analyze_s"] = time.perf_counter() - t2
        timings["total_s"] = time.perf_counter() - t0
        timings["size"] = conn.execute(f"SELECT pg_size_pretty(pg_total_relation_size('{LAYER}'))").fetchone()[0]
        # the mark a later run reuses the database by (COMMENT takes no parameter: a quoted literal)
        conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(
            sql.Identifier(LAYER), sql.Literal(json.dumps({"bench": "pg_10m", "points": points, "seed": seed,
                                                           **timings}))))
    return timings


def loaded(url: str) -> dict | None:
    """The load record of a database this bench filled (None when it holds no complete load)."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", (LAYER,)).fetchone()
    except psycopg.OperationalError:
        return None
    try:
        info = json.loads(row[0]) if row and row[0] else None
    except ValueError:
        return None
    return info if info and info.get("bench") == "pg_10m" else None


# -- the servers -----------------------------------------------------------------------------------

def serve_rallypoint(url: str, port: int, workers: int, tile_cache: bool) -> None:
    """``rallypoint serve URL``, in this process (gunicorn's master), its tile cache off unless asked."""
    from rallypoint.api.tiles import tilesets as tiles
    from rallypoint.cli.main import cli

    if not tile_cache:
        tiles.CACHE_SIZE = 0  # every tile is made by the database, as tipg's are (the workers fork from here)
    cli(["serve", url, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)])


def _start(cmd: list[str], ready: str, log: Path, env: dict | None = None) -> subprocess.Popen:
    """Start a server with its output in ``log`` (a pipe nobody reads would stall it once full)."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_until_up(ready, proc, timeout=120)
    except SystemExit as exc:
        stop(proc)
        raise SystemExit(f"{exc}\n{log.read_text()[-3000:]}") from None
    return proc


def start_rallypoint(url: str, workers: int, tile_cache: bool, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, __file__, "--serve-rallypoint", url, "--port", str(port), "--workers", str(workers)]
    base = f"http://127.0.0.1:{port}"
    return _start(cmd + (["--tile-cache"] if tile_cache else []), base + "/", log), base


def tipg_python() -> Path:
    """The interpreter of a venv holding tipg 1.6 and uvicorn, made once under ~/.cache/rallypoint-bench."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rallypoint-bench" / "tipg"
    python = cache / "bin" / "python"
    ok = python.exists() and subprocess.run(
        [str(python), "-c", "import tipg, uvicorn, sys; sys.exit(not tipg.__version__.startswith('1.6'))"],
        capture_output=True).returncode == 0
    if not ok:
        print(f"installing {TIPG} and uvicorn into {cache} (once) …", flush=True)
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--clear", str(cache)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", TIPG, "uvicorn"], check=True)
    return python


def start_tipg(url: str, workers: int, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url,
           # only the one table: no functions, no other schema, no tiles viewer, no spatial/temporal extents
           "TIPG_DB_SCHEMAS": '["public"]', "TIPG_DB_TABLES": json.dumps([TIPG_ID]), "TIPG_DB_FUNCTIONS": "[]",
           "TIPG_DB_SPATIAL_EXTENT": "false", "TIPG_DB_DATETIME_EXTENT": "false",
           "TIPG_ADD_TILES_VIEWER": "false"}
    cmd = [str(tipg_python()), "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    base = f"http://127.0.0.1:{port}"
    return _start(cmd, base + f"/collections/{TIPG_ID}", log, env), base


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc: no psutil needed)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def memory_mb(pid: int) -> tuple[float, float]:
    """(Σ peak RSS, Σ PSS now) of a server's processes, in MB (forked workers share pages: PSS splits them)."""
    hwm = pss = 0
    for p in _tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        hwm += int(status.split("VmHWM:")[1].split()[0])
        pss += int(rollup.split("\nPss:")[1].split()[0])
    return hwm / 1024, pss / 1024


# -- the requests ----------------------------------------------------------------------------------

def random_points(url: str, n: int, seed: int) -> np.ndarray:
    """Positions of ``n`` random live hazard points (drawn by fid with ``seed``): where requests go."""
    import psycopg

    with psycopg.connect(url) as conn:
        top = conn.execute(f"SELECT max(fid) FROM {LAYER}").fetchone()[0]
        fids = np.random.default_rng(seed).integers(1, top + 1, 3 * n).tolist()
        rows = conn.execute(f"SELECT fid, ST_X(geom), ST_Y(geom) FROM {LAYER} WHERE fid = ANY(%s) "
                            "AND retired_at IS NULL", (fids,)).fetchall()
    where = {fid: (x, y) for fid, x, y in rows}
    return np.array([where[f] for f in fids if f in where][:n])


def bbox_requests(xy: np.ndarray, seed: int) -> list[tuple[float, float, float, float]]:
    rnd = np.random.default_rng(seed + 1)
    w, h = rnd.uniform(0.02, 0.08, len(xy)), rnd.uniform(0.02, 0.08, len(xy))
    x, y = xy[:, 0] - w * rnd.random(len(xy)), xy[:, 1] - h * rnd.random(len(xy))
    return list(zip(x, y, x + w, y + h))


def tiles_of(xy: np.ndarray, z: int) -> list[tuple[int, int, int]]:
    """The distinct WebMercatorQuad tiles holding the points, in the points' order."""
    n = 1 << z
    col = ((xy[:, 0] + 180) / 360 * n).astype(int)
    row = ((1 - np.arcsinh(np.tan(np.radians(xy[:, 1]))) / math.pi) / 2 * n).astype(int)
    return list(dict.fromkeys((z, int(c), int(r)) for c, r in zip(col, row)))


def request_sets(url: str, args) -> dict[str, tuple[list[str], list[str], int]]:
    """Per kind of request: (Rallypoint's paths, tipg's paths for the same requests, distinct requests)."""
    from rallypoint.schema import builtin_layers

    layer = builtin_layers()[LAYER]
    public = [f.name for f in layer.fields if not f.personal]
    live = "filter=retired_at%20IS%20NULL"  # CQL2 text: Rallypoint serves no retired feature
    xy = random_points(url, args.requests, args.seed)
    boxes = bbox_requests(xy, args.seed)
    sets = {}
    fmt = "{:.5f},{:.5f},{:.5f},{:.5f}"
    sets["bbox"] = ([f"/collections/{LAYER}/items?bbox={fmt.format(*b)}&limit=100" for b in boxes],
                    [f"/collections/{TIPG_ID}/items?bbox={fmt.format(*b)}&limit=100&properties={','.join(public)}"
                     f"&{live}" for b in boxes], len(boxes))
    for z in args.zooms:
        tiles = tiles_of(xy, z)[: args.requests]
        wanted = layer.tiles.fields_at(z)
        props = ",".join(f for f in public if wanted is None or f in wanted)
        sets[f"z{z}"] = ([f"/collections/{LAYER}/tiles/WebMercatorQuad/{z}/{y}/{x}" for _, x, y in tiles],
                         [f"/collections/{TIPG_ID}/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={props}&{live}"
                          for _, x, y in tiles], len(tiles))
    return sets


def settle(url: str, timeout: float = 300) -> int:
    """Cancel the statements still running for requests the load generator gave up on when its round
    ended, until the database stays idle: a server would go on with them, and with the requests still
    queued on its socket, into the next round (the other server's or its own). Returns how many were
    cancelled."""
    import psycopg

    others = ("datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' "
              "AND backend_type = 'client backend'")
    cancelled, quiet_since = 0, None
    end = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < end:
            n = conn.execute(f"SELECT count(*) FILTER (WHERE pg_cancel_backend(pid)) FROM pg_stat_activity "
                             f"WHERE {others}").fetchone()[0]
            cancelled += n
            if n:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 1.0:  # a worker takes its next queued request within this
                break
            time.sleep(0.1)
    return cancelled


def measure(load, url: str, base: str, paths: list[str], seconds: int, connections: int, folder: Path) -> dict:
    """One round against one server: the load generator's figures, then the database settled.
    A round in which no request finished has rate 0 and no latencies (p50 and p99 are NaN)."""
    try:
        r = load(base, paths, seconds, connections, folder)
    except (AttributeError, KeyError, ValueError, subprocess.CalledProcessError):  # no request finished: no figures
        r = {"rate": 0.0, "p50": math.nan, "p99": math.nan, "requests": 0, "non_2xx": 0, "socket_errors": ""}
    if not r["requests"]:
        r.update(rate=0.0, p50=math.nan, p99=math.nan)
    r["cancelled"] = settle(url)
    return r


def summary(rounds: list[dict]) -> dict:
    """Medians over the rounds: of the rates, and of the latencies of the rounds in which requests finished."""
    def median(values: list[float]) -> float:
        values = sorted(v for v in values if not math.isnan(v))
        return values[len(values) // 2] if values else math.nan

    return {"rate": median([r["rate"] for r in rounds]), "p50": median([r["p50"] for r in rounds]),
            "p99": median([r["p99"] for r in rounds]), "requests": sum(r["requests"] for r in rounds),
            "non_2xx": sum(r["non_2xx"] for r in rounds)}


def check_alike(rp_base: str, tipg_base: str, sets: dict, timeout: float) -> dict:
    """One request of each server per kind: both answer, the same features for a page (a sanity check)."""
    import urllib.request

    def get(url: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, r.read()
        except OSError as exc:
            return str(exc), b""

    seen = {}
    rp_paths, tipg_paths, _ = sets["bbox"]
    _, a = get(rp_base + rp_paths[0])
    _, b = get(tipg_base + tipg_paths[0])
    a, b = json.loads(a), json.loads(b)
    seen["bbox"] = (a.get("numberMatched"), b.get("numberMatched"), len(a["features"]), len(b["features"]))
    if a.get("numberMatched") != b.get("numberMatched"):
        print(f"  note: numberMatched differs for {rp_paths[0]}: Rallypoint {a.get('numberMatched')}, "
              f"tipg {b.get('numberMatched')}")
    for kind in [k for k in sets if k.startswith("z")][-1:]:  # the closest zoom (a low one can take minutes)
        if kind.startswith("z"):
            sa, ta = get(rp_base + sets[kind][0][0])
            sb, tb = get(tipg_base + sets[kind][1][0])
            seen[kind] = (sa, len(ta), sb, len(tb))
    return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=10_000_000, help="hazard points to load (default 10M)")
    ap.add_argument("--url", help="an existing PostgreSQL database with PostGIS (default: a cluster of the bench's "
                                  "own)")
    ap.add_argument("--cluster-dir", type=Path, default=Path(tempfile.gettempdir()) / "rallypoint-bench-pg",
                    help="where the bench's own cluster lives (kept with --keep, reused when it holds the load)")
    ap.add_argument("--keep", action="store_true", help="keep the cluster and its loaded database for the next run")
    ap.add_argument("--reload", action="store_true", help="load the points again even if the database holds them")
    ap.add_argument("--load-only", action="store_true", help="make the database, serve nothing")
    ap.add_argument("--workers", type=int, nargs="+", default=[2, 4], help="worker counts to run (default 2 4)")
    ap.add_argument("--duration", type=int, default=20, help="seconds of load per server and kind, in all rounds")
    ap.add_argument("--rounds", type=int, default=4, help="alternating rounds (Rallypoint, tipg, Rallypoint, …)")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--requests", type=int, default=20000, help="distinct random requests per kind to draw from")
    ap.add_argument("--zooms", type=int, nargs="*", default=list(ZOOMS), help="tile zooms (none: pages only)")
    ap.add_argument("--seed", type=int, default=2938)
    ap.add_argument("--tile-cache", action="store_true", help="leave Rallypoint's per-worker tile cache on")
    ap.add_argument("--servers", nargs="+", choices=["rallypoint", "tipg"], default=["rallypoint", "tipg"],
                    help="which to run (default both)")
    ap.add_argument("--slow-timeout", type=int, default=900,
                    help="seconds to wait for one request of a kind of which no request finished within a round")
    ap.add_argument("--verbose", action="store_true", help="print each round's figures as they come")
    ap.add_argument("--explain-slow", type=int, metavar="MS",
                    help="log the plans (EXPLAIN ANALYZE, by auto_explain) of statements slower than MS ms to the "
                         "bench cluster's server.log, to see what is slow (it slows every statement a little)")
    ap.add_argument("--serve-rallypoint", metavar="URL", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers and the cluster on kill too
    if args.serve_rallypoint:
        serve_rallypoint(args.serve_rallypoint, args.port, args.workers[0], args.tile_cache)
        return
    require_wrk()
    client = "wrk"
    # a tile of millions of points may take seconds: wrk waits for it rather than count it lost
    load = functools.partial(run_wrk, timeout=120)

    cluster = None
    if args.url:
        url = args.url
    else:
        import pg_support

        why = pg_support.missing()
        if why:
            raise SystemExit(f"cannot start PostgreSQL: {why}")
        options = "-c shared_buffers=1GB -c max_connections=200"
        if args.explain_slow is not None:
            options += (" -c session_preload_libraries=auto_explain -c auto_explain.log_analyze=on"
                        f" -c auto_explain.log_buffers=on -c auto_explain.log_min_duration={args.explain_slow}")
        cluster = pg_support.PgCluster(args.cluster_dir, options=options)
        dbname = f"hazards_{args.points}"
        url = cluster.url(dbname)
        import psycopg

        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
                conn.execute(f'CREATE DATABASE "{dbname}"')
    try:
        info = None if args.reload else loaded(url)
        if info and info["points"] == args.points:
            print(f"reusing the loaded database {url} ({info['points']:,} points, loaded in "
                  f"{info['total_s']:.0f} s, {info['size']})")
        else:
            print(f"loading {args.points:,} hazard points into {url} …", flush=True)
            info = {"points": args.points, **load_points(url, args.points, args.seed)}
        print(f"load: {info['points']:,} points in {info['total_s']:.0f} s (COPY {info['copy_s']:.0f} s, of which "
              f"generating {info['generate_s']:.0f} s; indexes {info['index_s']:.0f} s; thinning levels "
              f"{info.get('thinning_s', 0):.0f} s; VACUUM ANALYZE "
              f"{info['vacuum_analyze_s']:.0f} s); table with indexes {info['size']}")
        if args.load_only:
            return
        run(url, args, load, client, info)
    finally:
        if cluster:
            cluster.stop(remove=not args.keep)
            if args.explain_slow is not None:
                print(f"plans of the statements slower than {args.explain_slow} ms: {cluster.dir / 'server.log'}"
                      + ("" if args.keep else " (removed with the cluster: run with --keep to read it)"))
            if args.keep:
                print(f"kept the cluster in {cluster.dir} (run again to reuse it; remove the folder to free "
                      "the disk)")


def time_one(url: str, timeout: float) -> str:
    import urllib.request

    t = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            size = len(r.read())
    except OSError as exc:
        return f"more than {time.perf_counter() - t:.0f} s ({exc})"
    return f"{time.perf_counter() - t:.1f} s ({size:,} bytes)"


def _ms(value: float) -> str:
    return "      —" if math.isnan(value) else f"{value:7.0f}" if value >= 10000 else f"{value:7.1f}"


def run(url: str, args, load, client: str, info: dict) -> None:
    sets = request_sets(url, args)
    per_round = max(1, args.duration // args.rounds)
    table, problems, timed_alone = [], [], set()
    logs = Path(tempfile.mkdtemp(prefix="pg_10m-logs-"))  # the servers' output, kept for a look afterwards
    for workers in args.workers:
        procs = []
        try:
            servers = {}
            if "rallypoint" in args.servers:
                servers["rallypoint"] = start_rallypoint(url, workers, args.tile_cache,
                                                          logs / f"rallypoint-{workers}w.log")
                procs.append(servers["rallypoint"][0])
            if "tipg" in args.servers:
                servers["tipg"] = start_tipg(url, workers, logs / f"tipg-{workers}w.log")
                procs.append(servers["tipg"][0])
            if len(servers) == 2:
                first = check_alike(servers["rallypoint"][1], servers["tipg"][1], sets, args.slow_timeout)
                settle(url)
                print(f"{workers} workers: first requests {first}")
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                for name, (_, base) in servers.items():
                    # Warm up, waiting for every answer (nothing cancelled): a Rallypoint worker's first box
                    # over a large layer builds its grid of counts (a pass over the whole table), which a
                    # running server has done long before; a few boxes per worker reach every worker.
                    t = time.perf_counter()
                    run_python_client(base, sets["bbox"][SIDE[name]][-4 * workers:], 0, args.connections, tmp)
                    print(f"  {workers} workers, {name}: first {4 * workers} pages in {time.perf_counter() - t:.1f} s",
                          flush=True)
                for kind, paths in sets.items():  # the same pages into the database's cache for both
                    for name, (_, base) in servers.items():
                        measure(load, url, base, paths[SIDE[name]][:200], 1, args.connections, tmp)
                rounds = {(name, kind): [] for name in servers for kind in sets}
                for _ in range(args.rounds):
                    for kind, paths in sets.items():
                        for name, (_, base) in servers.items():
                            rounds[name, kind].append(measure(load, url, base, paths[SIDE[name]], per_round,
                                                              args.connections, tmp))
                            if args.verbose:
                                print(f"  {workers} workers, {name}, {kind}: {rounds[name, kind][-1]}", flush=True)
                mem = {name: memory_mb(proc.pid) for name, (proc, _) in servers.items()}
                for (name, kind), rs in rounds.items():  # nothing finished in a round: how long does one take?
                    if not any(r["requests"] for r in rs) and (name, kind) not in timed_alone:
                        timed_alone.add((name, kind))  # once: the workers do not change one request's time
                        path = sets[kind][SIDE[name]][0]
                        took = time_one(servers[name][1] + path, args.slow_timeout)
                        problems.append(f"{workers} workers, {name}, {kind}: no request finished within a round; "
                                        f"one alone ({path}) took {took}")
                        settle(url)
        finally:
            for proc in procs:
                stop(proc)
        for kind in sets:
            row = {"workers": workers, "kind": kind, "distinct": sets[kind][2]}
            for name in servers:
                row[name] = summary(rounds[name, kind])
                lost = "; ".join(r["socket_errors"] for r in rounds[name, kind] if r.get("socket_errors"))
                if lost:
                    problems.append(f"{workers} workers, {name}, {kind}: socket errors {lost}")
                cancelled = sum(r["cancelled"] for r in rounds[name, kind])
                if cancelled:
                    problems.append(f"{workers} workers, {name}, {kind}: {cancelled} statements still running at "
                                    f"the ends of the rounds, cancelled")
            if len(servers) == 2:
                ratios = sorted(a["rate"] / max(b["rate"], 1e-9)
                                for a, b in zip(rounds["rallypoint", kind], rounds["tipg", kind]))
                row["ratio"] = ratios[len(ratios) // 2]
            table.append(row)
        table.append({"workers": workers, "memory": mem})
    print()
    print(f"{info['points']:,} hazard points in PostGIS · client {client}, {args.connections} connections, "
          f"{args.rounds} alternating rounds × {per_round} s per server and kind · {os.cpu_count()} CPUs")
    print(f"{'workers':>7} {'request':8} {'distinct':>8}  {'Rallypoint req/s  p50 ms  p99 ms':34}"
          f"{'tipg req/s  p50 ms  p99 ms':28} ratio (rate)")
    for row in table:
        if "memory" in row:
            print(f"{row['workers']:>7} memory: " + "; ".join(
                f"{name} peak RSS Σ {hwm:.0f} MB, PSS Σ {pss:.0f} MB" for name, (hwm, pss) in row["memory"].items()))
            continue
        cells = []
        for name in ("rallypoint", "tipg"):
            r = row.get(name)
            cells.append(f"{r['rate']:10.1f} {_ms(r['p50'])} {_ms(r['p99'])}"
                         + (f" ({r['non_2xx']} bad)" if r["non_2xx"] else "") if r else "")
        ratio = f"{row['ratio']:.2f}" if "ratio" in row else ""
        print(f"{row['workers']:>7} {row['kind']:8} {row['distinct']:>8}  {cells[0]:34}{cells[1]:28}{ratio}")
    print("ratio: Rallypoint's rate / tipg's, median over the alternating rounds (above 1: Rallypoint faster)")
    for line in problems:
        print("  " + line)
    print(f"servers' output: {logs}")


if __name__ == "__main__":
    main()

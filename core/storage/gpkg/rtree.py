"""Filling an empty GeoPackage R-tree in one pass: a packed tree written straight into SQLite's R-tree tables.

Inserting a hundred thousand entries into SQLite's R*-tree one at a time costs about ten microseconds
each (every insert descends the tree and splits nodes), more than the rows they index. GDAL builds the
R-tree of a new GeoPackage layer the same way as here since 3.6 (its ``sqlite_rtree_bulk_load``): when the
tree is empty, the whole tree is built in memory and its nodes are written into the three tables SQLite's
``rtree`` module keeps it in (``<name>_node``, ``<name>_rowid``, ``<name>_parent``), in the format the module
reads (``ext/rtree/rtree.c``: a node is a blob of the tree's node size, a 16-bit depth (root only) and cell
count, then cells of a 64-bit id and the box as 32-bit floats, all big-endian; minima rounded down and
maxima up as the module rounds them). This one is a sort-tile-recursive packed tree (Leutenegger et al.,
1997): full nodes, neighbours together, a good tree for the static, point-heavy layers of a registry; the
module inserts into it, deletes from it and answers queries on it as on any tree it built itself.
``SELECT rtreecheck(…)`` finds it sound (the tests ask it).

Only an empty tree is filled so; a tree that holds entries is added to through the module, entry by entry.
"""

from __future__ import annotations

import math
import sqlite3

import numpy as np

from ..base import quote

_CELL = 24  # 8-byte id + 4 × 4-byte float coordinates (2 dimensions)
_TOWARDS, _AWAY = 1.0 - 1.0 / 8388608.0, 1.0 + 1.0 / 8388608.0  # rtree.c's RNDTOWARDS, RNDAWAY


def _down(d: np.ndarray) -> np.ndarray:
    """rtree.c's rtreeValueDown: the 32-bit float at or below each value."""
    f = d.astype(np.float32)
    over = f.astype(np.float64) > d
    if over.any():
        f[over] = (d[over] * np.where(d[over] < 0, _AWAY, _TOWARDS)).astype(np.float32)
    return f


def _up(d: np.ndarray) -> np.ndarray:
    """rtree.c's rtreeValueUp: the 32-bit float at or above each value."""
    f = d.astype(np.float32)
    under = f.astype(np.float64) < d
    if under.any():
        f[under] = (d[under] * np.where(d[under] < 0, _TOWARDS, _AWAY)).astype(np.float32)
    return f


def _str_order(box: np.ndarray, per_node: int) -> np.ndarray:
    """Sort-tile-recursive order of boxes (columns minx, maxx, miny, maxy): vertical slices by x, each by y."""
    n = len(box)
    cx = (box[:, 0].astype(np.float64) + box[:, 1]) / 2
    cy = (box[:, 2].astype(np.float64) + box[:, 3]) / 2
    nodes = math.ceil(n / per_node)
    per_slice = math.ceil(math.sqrt(nodes)) * per_node
    by_x = np.argsort(cx, kind="stable")
    slices = np.empty(n, dtype=np.int64)
    slices[by_x] = np.arange(n) // per_slice
    return np.lexsort((cy, slices))


def _nodes(ids: np.ndarray, box: np.ndarray, per_node: int, node_size: int, depth_of_root: int | None,
           first: int) -> tuple[list[int], np.ndarray, np.ndarray, list[bytes]]:
    """Pack ``ids`` with their boxes into nodes numbered from ``first`` (the root is numbered 1 and carries the
    depth): (node numbers, each entry's node, the nodes' boxes, the nodes' blobs)."""
    n = len(ids)
    count = math.ceil(n / per_node)
    numbers = [1] if depth_of_root is not None else list(range(first, first + count))
    owner = np.repeat(np.arange(count), per_node)[:n]
    cells = np.zeros(count * per_node, dtype=[("id", ">i8"), ("box", ">f4", (4,))])
    cells["id"][:n] = ids
    cells["box"][:n] = box
    raw = np.zeros((count, node_size), dtype=np.uint8)
    raw[:, 4:4 + per_node * _CELL] = cells.view(np.uint8).reshape(count, per_node * _CELL)
    filled = np.bincount(owner, minlength=count)
    raw[:, 2] = filled >> 8
    raw[:, 3] = filled & 0xFF
    if depth_of_root is not None:
        raw[0, 0], raw[0, 1] = depth_of_root >> 8, depth_of_root & 0xFF
    starts = np.arange(count) * per_node
    ends = np.minimum(starts + per_node, n)
    node_box = np.column_stack([np.minimum.reduceat(box[:, 0], starts), np.maximum.reduceat(box[:, 1], starts),
                                np.minimum.reduceat(box[:, 2], starts), np.maximum.reduceat(box[:, 3], starts)])
    assert (ends > starts).all()
    return numbers, owner, node_box, [bytes(r) for r in raw]


def fill_empty(conn: sqlite3.Connection, rtree: str, ids: np.ndarray, minx: np.ndarray, maxx: np.ndarray,
               miny: np.ndarray, maxy: np.ndarray) -> bool:
    """Write the R-tree ``rtree`` (a GeoPackage ``rtree_<table>_<column>``) holding these entries, if it is
    empty; False (nothing done) when it holds entries already or is not as the module makes an empty tree."""
    node_t, rowid_t, parent_t = (quote(f"{rtree}_{s}") for s in ("node", "rowid", "parent"))
    if conn.execute(f"SELECT 1 FROM {rowid_t} LIMIT 1").fetchone() is not None:
        return False
    nodes = conn.execute(f"SELECT nodeno, length(data) FROM {node_t}").fetchall()
    if len(nodes) != 1 or nodes[0][0] != 1 or conn.execute(f"SELECT 1 FROM {parent_t} LIMIT 1").fetchone():
        return False
    node_size = nodes[0][1]
    per_node = (node_size - 4) // _CELL
    if len(ids) == 0:
        return True
    if per_node < 2 or not (np.asarray(minx) <= np.asarray(maxx)).all() or \
            not (np.asarray(miny) <= np.asarray(maxy)).all():
        return False  # the module refuses such boxes: let it say so, entry by entry
    box = np.column_stack([_down(np.asarray(minx, dtype=np.float64)), _up(np.asarray(maxx, dtype=np.float64)),
                           _down(np.asarray(miny, dtype=np.float64)), _up(np.asarray(maxy, dtype=np.float64))])
    ids = np.asarray(ids, dtype=np.int64)
    level_ids, level_box = ids, box
    depth, next_number = 0, 2
    blobs: list[tuple[int, bytes]] = []
    parents: list[tuple[int, int]] = []
    children: list[int] | None = None  # the node numbers of the level below (None: the leaves)
    while True:
        order = _str_order(level_box, per_node)
        level_ids, level_box = level_ids[order], level_box[order]
        root = len(level_ids) <= per_node
        numbers, owner, node_box, data = _nodes(level_ids, level_box, per_node, node_size,
                                                depth if root else None, next_number)
        blobs += list(zip(numbers, data))
        owners = np.asarray(numbers)[owner]
        if children is None:
            conn.executemany(f"INSERT INTO {rowid_t} (rowid, nodeno) VALUES (?, ?)",
                             zip(level_ids.tolist(), owners.tolist()))
        else:
            parents += list(zip(level_ids.tolist(), owners.tolist()))
        if root:
            break
        next_number += len(numbers)
        children, level_ids, level_box = numbers, np.asarray(numbers, dtype=np.int64), node_box
        depth += 1
    conn.execute(f"UPDATE {node_t} SET data = ? WHERE nodeno = 1", (blobs[-1][1],))
    conn.executemany(f"INSERT INTO {node_t} (nodeno, data) VALUES (?, ?)", blobs[:-1])
    conn.executemany(f"INSERT INTO {parent_t} (nodeno, parentnode) VALUES (?, ?)", parents)
    return True


def clear(conn: sqlite3.Connection, rtree: str) -> None:
    """Empty the R-tree ``rtree`` as the module makes a new one (a root node of zeros), without deleting its
    entries one by one."""
    node_t = quote(f"{rtree}_node")
    size = conn.execute(f"SELECT length(data) FROM {node_t} WHERE nodeno = 1").fetchone()
    if size is None:  # not as the module keeps a tree: through the module
        conn.execute(f"DELETE FROM {quote(rtree)}")
        return
    for part in ("rowid", "parent"):
        conn.execute(f"DELETE FROM {quote(f'{rtree}_{part}')}")
    conn.execute(f"DELETE FROM {node_t} WHERE nodeno <> 1")
    conn.execute(f"UPDATE {node_t} SET data = zeroblob(?) WHERE nodeno = 1", (size[0],))

"""Mapbox Vector Tile 2.1 layers written as protobuf bytes, a whole layer at once with numpy.

Why not a library (issue 19; measured on the city sample's zoom-12 hazard-point tiles, ~700
points each): PostGIS's ``ST_AsMVT`` makes such a tile in about 1.6 ms, so an encoder has well
under a microsecond per feature. None of those on PyPI or in Debian fits:

* ``mapbox-vector-tile`` (pure Python, used before): 30–40 µs a feature;
* ``vtzero`` (Cython bindings of mapbox/vtzero, 0.0.1b5, pre-alpha): a Python call per feature,
  point and property, and properties only as strings (integers, reals and booleans would change
  type in the tiles);
* ``freestiler`` (Rust): writes whole PMTiles archives from GeoPandas frames, not a tile on request;
* GDAL's MVT driver (Debian's python3-gdal): writes tile sets through a temporary SQLite database,
  feature by feature through OGR;
* the protobuf runtime's C backend (upb, with ``vector_tile.proto``): a Python call per message
  and field, about 7 µs a feature here.

So the wire format is written here; it is small. A layer is varints and a few length-delimited
strings: every feature's varints (the header, id, tags and geometry commands) are laid out in
one array and encoded together (:func:`varints`), the layer's values (strings, integers,
doubles, booleans) likewise per type. Geometry commands (MoveTo, LineTo, ClosePath with
zig-zag deltas) are made for all the layer's points, lines or rings at once from shapely's
coordinate arrays (:func:`point_commands`, :func:`line_commands`, :func:`polygon_commands`),
by the rules of the encoder this replaces: points MoveTo; consecutive repeated points left out,
an arc or ring with fewer than two distinct points left out (a polygon whose exterior is left
out goes entirely), rings without their closing point and closed by ClosePath; the cursor runs
on from part to part of a feature. Values are listed once per field (the same value under two
fields is listed twice: a decoder reads the same properties).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .mvt_commands import (EXTENT, LINESTRING, POINT, POLYGON, line_commands, multipoint_commands,  # noqa: F401
                           point_commands, polygon_commands, zigzag)

_LIMITS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=np.uint64)
_U64 = np.uint64


def varint_sizes(v: np.ndarray) -> np.ndarray:
    """Bytes of each value as a protobuf varint (``v``: uint64)."""
    sizes = np.ones(len(v), np.int64)
    if len(v):
        top = int(v.max())
        for limit in _LIMITS[: (top.bit_length() - 1) // 7]:
            sizes += v >= limit
    return sizes


def varints(v: np.ndarray, sizes: np.ndarray | None = None) -> np.ndarray:
    """The values (uint64) as consecutive protobuf varints, in one uint8 array (``sizes``: their sizes, if known).

    Every value's first byte written at once (its low 7 bits, the continuation bit where more follow), then
    the next byte of those that need one, and so on: most values of a tile take one byte, so the later
    passes are over few values."""
    if sizes is None:
        sizes = varint_sizes(v)
    if not len(v):
        return np.zeros(0, np.uint8)
    m = int(sizes.max())
    if m == 1:
        return v.astype(np.uint8)
    ends = np.cumsum(sizes)
    out = np.empty(int(ends[-1]), np.uint8)
    at = ends - sizes
    more = sizes > 1
    out[at] = (v & _U64(0x7F)).astype(np.uint8) | (more.view(np.uint8) << np.uint8(7))
    pick = np.flatnonzero(more)
    v, at, sizes = v[pick] >> _U64(7), at[pick] + 1, sizes[pick]
    for k in range(2, m + 1):
        more = sizes > k
        out[at] = (v & _U64(0x7F)).astype(np.uint8) | (more.view(np.uint8) << np.uint8(7))
        if k < m:
            pick = np.flatnonzero(more)
            v, at, sizes = v[pick] >> _U64(7), at[pick] + 1, sizes[pick]
    return out


def _spans(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The indices start, start + 1, …, start + size - 1 of every span, one after the other."""
    total = int(sizes.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(sizes)
    return np.arange(total) + np.repeat(starts - (ends - sizes), sizes)


# -- values -----------------------------------------------------------------------------------------------

def _string_values(values: list[str]) -> bytes:
    """``Value`` messages of strings, each as layer field 4: 0x22, size, 0x0A, length, UTF-8."""
    raw = [v.encode() for v in values]
    payload = b"".join(raw)
    length = np.fromiter(map(len, raw), np.int64, len(raw))
    if len(raw) and length.max() <= 125:  # the usual: every size a byte, records of length + 4 bytes
        ends = np.cumsum(length + 4)
        out = np.empty(int(ends[-1]), np.uint8)
        head = np.zeros(len(out), bool)
        at = ends - length - 4
        head[at] = head[at + 1] = head[at + 2] = head[at + 3] = True
        out[head] = np.column_stack([np.full(len(raw), 0x22), length + 2, np.full(len(raw), 0x0A), length]).ravel()
        out[~head] = np.frombuffer(payload, np.uint8)
        return out.tobytes()
    return b"".join(_one_value(v) for v in values)


def _int_values(values: list[int]) -> bytes:
    v = np.array(values, dtype=np.int64).view(_U64)
    n = len(v)
    head = np.column_stack([np.full(n, 0x22, _U64), varint_sizes(v).astype(_U64) + _U64(1),
                            np.full(n, 0x20, _U64), v]).ravel()
    return varints(head).tobytes()


def _double_values(values: list[float]) -> bytes:
    n = len(values)
    out = np.empty((n, 11), np.uint8)
    out[:, :3] = (0x22, 9, 0x19)
    out[:, 3:] = np.array(values, dtype="<f8").view(np.uint8).reshape(n, 8)
    return out.tobytes()


def _one_value(v: Any) -> bytes:
    if isinstance(v, bool):
        inner = b"\x38" + (b"\x01" if v else b"\x00")
    elif isinstance(v, str):
        b = v.encode()
        inner = b"\x0a" + _varint(len(b)) + b
    elif isinstance(v, int):
        inner = b"\x20" + _varint(v & 0xFFFFFFFFFFFFFFFF)
    else:
        inner = b"\x19" + struct.pack("<d", v)
    return b"\x22" + _varint(len(inner)) + inner


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_VARINTS = tuple(_varint(n) for n in range(1 << 14))  # the one- and two-byte varints, made once


def _v(n: int) -> bytes:
    return _VARINTS[n] if n < 16384 else _varint(n)


SMALL = 24  # a layer (or a column) of at most so many features is written in Python (see _small_layer)
FEW = 32  # a kept column of at most so many values lists them all in every tile (a few bytes, no work)
_NO_VALUE = (type(None), bytes, bytearray, memoryview)
# Values are listed by kind (all the strings, then integers, reals, booleans, the rest), each kind written at once
_KINDS: tuple[Any, ...] = (str, int, float, bool, object)
_WRITE = {str: _string_values, int: _int_values, float: _double_values,
          bool: lambda values: b"".join(map(_one_value, values)), object: lambda values: b"".join(map(_one_value, values))}


@dataclass  # not frozen: a tile makes some thirty (take), and frozen ones are slower to make (no slots: Python 3.9)
class Coded:
    """A column kept per layer as codes (-1: no value) into its distinct values, each written once as its
    ``Value`` message: a tile picks its features' codes, and its values are those messages, gathered.

    Absent values (None) and blobs are coded -1 (no tag, as :func:`_codes`); a ``boolean`` column's values
    are written as booleans. A column whose values are of several kinds keeps the values themselves
    (written per tile by :func:`_one_value`)."""

    codes: np.ndarray  # int32, per feature
    kind: Any  # the values' kind (one of _KINDS)
    messages: np.ndarray  # uint8: the Value messages one after the other (empty for kind object)
    starts: np.ndarray  # int64: where each value's message starts (one more: the end)
    values: np.ndarray | None  # object: the values themselves, for kind object
    unique: bool  # no two features hold the same value (names, ids)
    blob: bytes = b""  # the messages as bytes (a few values sliced at once, cheaper than through numpy)
    width: int = 0  # the length of every message, when all have the same (UUIDs, codes): gathered as rows

    @classmethod
    def of(cls, column: Sequence[Any], boolean: bool = False) -> Coded:
        """The column coded (by pandas' hash table)."""
        codes, uniques = pd.factorize(np.array(column, dtype=object), use_na_sentinel=True)
        values = list(uniques)
        drop = np.array([isinstance(v, _NO_VALUE) for v in values] + [True])
        if drop[:-1].any():
            mapping = np.cumsum(~drop) - 1
            mapping[drop] = -1
            codes = mapping[codes]
            values = [v for v, d in zip(values, drop) if not d]
        codes = codes.astype(np.int32)
        kinds = set(map(type, values))
        kind = bool if boolean else kinds.pop() if len(kinds) == 1 else object
        kind = kind if kind in _WRITE else object
        unique = len(values) == int((codes >= 0).sum())
        if kind is object:
            kept = np.empty(len(values), object)
            kept[:] = values
            return cls(codes, kind, np.zeros(0, np.uint8), np.zeros(1, np.int64), kept, unique)
        one = [_WRITE[kind]([bool(v) if boolean else v]) for v in values]
        starts = np.zeros(len(one) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, one), np.int64, len(one)), out=starts[1:])
        blob = b"".join(one)
        sizes = set(map(len, one))
        width = sizes.pop() if len(sizes) == 1 else 0
        return cls(codes, kind, np.frombuffer(blob, np.uint8), starts, None, unique, blob, width)

    def take(self, rows: np.ndarray) -> Coded:
        return Coded(self.codes[rows], self.kind, self.messages, self.starts, self.values, self.unique, self.blob,
                     self.width)

    def tile(self) -> tuple[np.ndarray, int, bytes]:
        """Per feature its value's index among the values it uses (-1: none), how many, and their messages."""
        codes = self.codes
        if len(codes) <= SMALL:  # a few features: in Python (numpy's calls cost more than the work)
            used: dict[int, int] = {}
            local = [used.setdefault(c, len(used)) if c >= 0 else -1 for c in codes.tolist()]
            if self.values is not None:
                written = b"".join(map(_one_value, self.values[list(used)].tolist())) if used else b""
            else:
                blob, starts = self.blob, self.starts
                written = b"".join([blob[starts[c]:starts[c + 1]] for c in used])
            return np.array(local, np.int64), len(used), written
        if self.values is None and len(self.starts) <= FEW + 1:  # a few values: all listed, used or not
            return codes, len(self.starts) - 1, self.blob
        present = codes >= 0
        every = present.all()
        if self.unique:  # each feature's value its own, in the features' order
            used = codes if every else codes[present]
            local = np.arange(len(codes)) if every else np.where(present, np.cumsum(present) - 1, -1)
        else:
            values = len(self.starts) - 1 if self.values is None else len(self.values)
            if values <= 16 * len(codes) + 256:  # few values: marked, then counted
                mark = np.zeros(values + 1, bool)
                mark[codes] = True  # -1 marks the extra last place
                mark[-1] = False
                used = np.flatnonzero(mark)
                local = (np.cumsum(mark) - 1)[codes]
            else:
                used, local = np.unique(codes[present], return_inverse=True)
                if not every:
                    full = np.full(len(codes), -1, np.int64)
                    full[present] = local
                    local = full
            if not every:
                local = np.where(present, local, -1)
        if self.values is not None:
            return local, len(used), b"".join(map(_one_value, self.values[used].tolist()))
        if self.width:
            return local, len(used), self.messages.reshape(-1, self.width)[used].tobytes()
        lengths = self.starts[used + 1] - self.starts[used]
        return local, len(used), self.messages[_spans(self.starts[used], lengths)].tobytes()


def _codes(column: Sequence[Any] | Coded, boolean: bool) -> tuple[np.ndarray, list[Any], Any]:
    """Per feature the index of its value among the column's distinct values (-1: none); the distinct values;
    their kind (str, int, float or bool; object when mixed).

    Absent (None) and unencodable values (blobs) have no tag, as before; ``boolean`` columns hold
    0/1 and are written as booleans.
    """
    if isinstance(column, Coded):
        present = column.codes >= 0
        used, inverse = np.unique(column.codes[present], return_inverse=True)
        codes = np.full(len(column.codes), -1, np.int64)
        codes[present] = inverse
        distinct = column.values[used].tolist()
        if boolean:
            return codes, [bool(v) for v in distinct], bool
        kinds = set(map(type, distinct))
        kind = kinds.pop() if len(kinds) == 1 else object
        return codes, distinct, kind if kind in _WRITE else object
    distinct = list(dict.fromkeys(column))
    kinds = set(map(type, distinct))
    if len(distinct) == len(column) and not kinds.intersection(_NO_VALUE):  # all different (ids, names)
        codes = np.arange(len(column))
    else:
        index = dict(zip(distinct, range(len(distinct))))
        codes = np.array(list(map(index.__getitem__, column)), np.int64)
        if kinds.intersection(_NO_VALUE):
            drop = np.array([isinstance(v, _NO_VALUE) for v in distinct])
            mapping = np.cumsum(~drop) - 1
            mapping[drop] = -1
            codes = mapping[codes]
            distinct = [v for v, d in zip(distinct, drop) if not d]
            kinds = set(map(type, distinct))
    if boolean:
        return codes, [bool(v) for v in distinct], bool
    kind = kinds.pop() if len(kinds) == 1 else object
    return codes, distinct, kind if kind in _WRITE else object


# -- a layer ----------------------------------------------------------------------------------------------

def layer(name: str, ids: np.ndarray, geom_type: int, commands: np.ndarray, counts: np.ndarray,
          columns: Sequence[tuple[str, Sequence[Any], bool]], extent: int = EXTENT) -> bytes:
    """A Tile message holding one layer (b"" if no feature): ``ids`` (uint64) and geometry ``commands``
    (uint64, ``counts`` per feature, a feature with none left out) of its features; ``columns``: per
    property (key, value per feature, whether boolean), in the order the tags list them."""
    if len(ids) <= SMALL:
        return _small_layer(name, ids, geom_type, commands, counts, columns, extent)
    has = counts > 0
    if not has.any():
        return b""
    keys: list[str] = []
    coded = []  # (codes, kind, how many values, their messages), a column each
    for key, column, boolean in columns:
        if isinstance(column, Coded):
            codes, n, written = column.tile()
            kind = column.kind
        else:
            codes, distinct, kind = _codes(column, boolean)
            n, written = len(distinct), _WRITE[kind](distinct) if distinct else b""
        if n:
            keys.append(key)
            coded.append((codes, kind, n, written))
    # the values are listed by kind (strings, integers, reals, booleans, the rest), by column within a kind
    by_kind = sorted(range(len(coded)), key=lambda i: _KINDS.index(coded[i][1]))
    offsets, start = [0] * len(coded), 0
    for i in by_kind:
        offsets[i], start = start, start + coded[i][2]
    if coded:
        v = np.column_stack([c for c, _, _, _ in coded])
        present = v >= 0
        v = np.where(present, v + np.array(offsets), 0)
        tags = np.empty((len(v), 2 * v.shape[1]), _U64)  # key, value, key, value, … (absent ones masked)
        tags[:, 0::2] = np.arange(v.shape[1])
        tags[:, 1::2] = v
        present = np.repeat(present, 2, axis=1)
    else:
        tags, present = np.zeros((len(ids), 0), _U64), np.zeros((len(ids), 0), bool)
    if not has.all():  # features whose geometry came to nothing (their values may stay listed, unused)
        ids, counts, tags, present = ids[has], counts[has], tags[has], present[has]
    body = _features(ids.astype(_U64), geom_type, commands, counts, tags, present)
    values = [coded[i][3] for i in by_kind]
    data = b"".join([_field(1, name.encode()), body.tobytes(), *(_field(3, key.encode()) for key in keys), *values,
                     b"\x28" + _varint(extent), b"\x78\x02"])
    return b"\x1a" + _varint(len(data)) + data


def _small_layer(name: str, ids: np.ndarray, geom_type: int, commands: np.ndarray, counts: np.ndarray,
                 columns: Sequence[tuple[str, Sequence[Any], bool]], extent: int) -> bytes:
    """:func:`layer` for a few features, a feature at a time in Python: for a handful of features numpy's
    fixed cost per call (a layer makes some hundred calls) is most of the time. The same messages but the
    values' order (by column here, by kind there): decoders read the same properties."""
    counts_l = counts.tolist()
    if not any(counts_l):
        return b""
    tags: list[list[int]] = [[] for _ in counts_l]
    keys: list[str] = []
    values: list[bytes] = []
    offset = 0
    for key, column, boolean in columns:
        if isinstance(column, Coded):
            local, n, written = column.tile()
        else:
            local, distinct, kind = _codes(column, boolean)
            n, written = len(distinct), _WRITE[kind](distinct) if distinct else b""
        if n:
            k = len(keys)
            keys.append(key)
            values.append(written)
            for t, c in zip(tags, local.tolist()):
                if c >= 0:
                    t += (k, c + offset)
            offset += n
    v = _v
    kind = v(geom_type)
    cmds = commands.tolist()
    out = [_field(1, name.encode())]
    at = 0
    for fid, count, t in zip(ids.tolist(), counts_l, tags):
        if not count:
            continue
        geometry = b"".join(map(v, cmds[at:at + count]))
        at += count
        packed = b"".join(map(v, t))
        body = b"".join((b"\x08", v(fid), b"\x12" + v(len(packed)) + packed if t else b"", b"\x18", kind,
                         b"\x22", v(len(geometry)), geometry))
        out += (b"\x12", v(len(body)), body)
    data = b"".join([*out, *(_field(3, key.encode()) for key in keys), *values, b"\x28" + _varint(extent), b"\x78\x02"])
    return b"\x1a" + _varint(len(data)) + data


def _field(number: int, payload: bytes) -> bytes:
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def _segment_sums(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sums of consecutive runs of ``values``, ``counts`` long each."""
    if len(counts) and counts[0] > 0 and (counts == counts[0]).all():
        return values.reshape(len(counts), -1).sum(1)
    ends = np.concatenate([[0], np.cumsum(values)])[np.cumsum(counts)]
    return np.diff(ends, prepend=0)


def _features(ids: np.ndarray, geom_type: int, commands: np.ndarray, counts: np.ndarray, tags: np.ndarray,
              present: np.ndarray) -> np.ndarray:
    """Layer field 2 (``Feature`` messages: id, packed tags, type, packed geometry) of every feature, as bytes:
    ``tags`` (a row a feature, ``present`` the ones it has) and ``commands`` (``counts`` a feature)."""
    n, width = tags.shape
    tag_bytes = (varint_sizes(tags.ravel()).reshape(n, width) * present).sum(1)
    has_tags = tag_bytes > 0
    geom_bytes = _segment_sums(varint_sizes(commands), counts)
    size = (1 + varint_sizes(ids) + has_tags * (1 + varint_sizes(tag_bytes.astype(_U64)) + tag_bytes)
            + 2 + 1 + varint_sizes(geom_bytes.astype(_U64)) + geom_bytes)
    # a feature: 0x12 size | 0x08 id | [0x12 tag_bytes tags…] | 0x18 type | 0x22 geom_bytes | commands…
    same = int(counts[0]) if n and counts[0] > 0 and (counts == counts[0]).all() else 0  # points: 3 each
    full = bool(same and width and present.all())  # every token used: the matrix is the features, row by row
    head = np.empty((n, width + 10 + (same if full else 0)), _U64)
    head[:, 0] = 0x12
    head[:, 1] = size
    head[:, 2] = 0x08
    head[:, 3] = ids
    head[:, 4] = 0x12
    head[:, 5] = tag_bytes
    head[:, 6:width + 6] = tags
    head[:, width + 6:width + 10] = (0x18, geom_type, 0x22, 0)
    head[:, width + 9] = geom_bytes
    if full:
        head[:, width + 10:] = commands.reshape(n, same)
        return varints(head.ravel())
    used = np.ones((n, width + 10), bool)
    used[:, 4] = used[:, 5] = has_tags
    used[:, 6:width + 6] = present
    if same:  # as many commands each, side by side
        tok = np.hstack([head, commands.reshape(n, -1)])[np.hstack([used, np.ones((n, same), bool)])]
    else:
        head_counts = used.sum(1)
        per = head_counts + counts
        start = np.cumsum(per) - per
        tok = np.empty(int(per.sum()), _U64)
        tok[_spans(start, head_counts)] = head[used]
        tok[_spans(start + head_counts, counts)] = commands
    return varints(tok)

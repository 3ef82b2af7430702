"""A ``rallypoint serve`` server as the source of a check-out: OGC API – Features over HTTP, ETags, API keys.

The HTTP client is the standard library's ``urllib``: a dozen plain JSON requests do not
need another dependency, and the module stays importable inside QGIS's Python.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .. import geometry as geo
from ..registry import Feature, Registry
from .base import CheckoutBase, Conflict, SyncError, SyncReport, editable, state

PAGE = 1000
GEOJSON = "application/geo+json"


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: Any


class Client:
    """A tiny OGC API - Features client for one server and API key."""

    def __init__(self, url: str, key: str | None = None, timeout: float = 60):
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> _Response:
        url = path if path.startswith("http") else self.url + path
        hdrs = {"Accept": f"{GEOJSON}, application/json"}
        if self.key:
            hdrs["Authorization"] = f"Bearer {self.key}"
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            hdrs["Content-Type"] = GEOJSON
        hdrs.update(headers or {})
        req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                raw, status, rh = r.read(), r.status, dict(r.headers)
        except urllib.error.HTTPError as exc:
            raw, status, rh = exc.read(), exc.code, dict(exc.headers)
        except urllib.error.URLError as exc:
            raise SyncError(f"{url}: cannot reach the server ({exc.reason})") from None
        except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, truncated answers
            raise SyncError(f"{method} {url}: the connection failed ({exc.__class__.__name__}: {exc})") from None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        if status in (401, 403):
            raise SyncError(f"{method} {url}: the server refused the key ({status}: {_message(parsed)})")
        return _Response(status, {k.lower(): v for k, v in rh.items()}, parsed)

    def get(self, path: str) -> Any:
        r = self.request("GET", path)
        if r.status != 200:
            raise SyncError(f"GET {path}: {r.status} {_message(r.body)}")
        if not isinstance(r.body, dict):
            raise SyncError(f"GET {path}: the answer is not a JSON object (is {self.url} a Rallypoint server?)")
        return r.body

    def items(self, layer: str) -> Iterator[dict[str, Any]]:
        """Every feature in use of a collection, page by page (CRS84 = the stored coordinates)."""
        path: str | None = f"/collections/{layer}/items?limit={PAGE}"
        while path:
            page = self.get(path)
            yield from page.get("features", [])
            path = next((lk["href"] for lk in page.get("links", []) if lk.get("rel") == "next"), None)


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("description") or body.get("title") or body)
    return str(body)[:300]



class HttpRemote:
    """A ``rallypoint serve`` server as the source of a check-out (OGC API - Features, ETags, API keys)."""

    def __init__(self, url: str, key: str | None):
        self.client = Client(url, key)
        self.url = self.client.url

    def close(self) -> None:
        pass

    def describe(self) -> tuple[str, str, str | None, set[str]]:
        landing = self.client.get("/")
        collections = {c["id"] for c in self.client.get("/collections").get("collections", [])}
        title = landing.get("title") or self.url
        bureau = (landing.get("description") or "").split(" · ")[0].strip() or self.url
        return title, bureau, None, collections

    def snapshot(self):
        return nullcontext()  # each page is read as the server has it then

    def items(self, layer: str) -> Iterator[dict[str, Any]]:
        return self.client.items(layer)

    def load_reference(self, reg: Registry, collections: set[str], author: str) -> int:
        """Copy the server's reference layers (areas, population, roads) whole, so analyses run offline."""
        import geopandas as gpd

        n = 0
        for name, ldef in reg.layers.items():
            if ldef.versioned or name not in collections:
                continue
            feats = list(self.client.items(name))
            if not feats:
                continue
            frame = gpd.GeoDataFrame.from_features(feats, crs="EPSG:4490")  # CRS84 answers are the stored lon/lat
            frame = frame[[f for f in ldef.field_names if f in frame.columns] + ["geometry"]]
            n += reg.load_reference(name, frame, author=author, note=f"checked out from {self.url}")
        return n

    def push(self, reg: Registry, base: "CheckoutBase", todo: dict[str, dict[str, tuple[str, Feature]]],
             layers: list[str], *, author: str, source: str,
             progress: Callable[[int], None] | None = None) -> SyncReport:
        """One request per change, with ``If-Match``; the server names the key's holder as the author."""
        client = self.client
        report = SyncReport()
        done = 0
        for layer in layers:
            known = base.all(layer)
            for uid, (kind, feat) in todo[layer].items():
                st = state(reg, feat)
                geom = None if feat.geometry is None else geo.mapping(feat.geometry)
                item = f"/collections/{layer}/items/{uid}"
                if kind == "new":
                    body = {"type": "Feature", "id": uid, "geometry": geom,
                            "properties": editable(reg, layer, feat.properties)}
                    r = client.request("POST", f"/collections/{layer}/items", body)
                else:
                    version, old = known[uid]
                    match = {"If-Match": f'"{uid}-v{version}"'}
                    if kind == "retired":
                        r = client.request("DELETE", item, headers=match)
                    else:
                        changed = {k: v for k, v in st["properties"].items() if old["properties"].get(k) != v}
                        body = {"type": "Feature", "properties": editable(reg, layer, changed)}
                        if st["geometry"] != old["geometry"]:
                            body["geometry"] = geom
                        r = client.request("PATCH", item, body, headers=match)
                done += 1
                if progress is not None:
                    progress(done)
                if r.status == 412:
                    report.conflicts.append(Conflict(layer, uid, f"changed on the server since version {known[uid][0]}; "
                                                     "the local change was not sent (pull to see the server's state)",
                                                     st, None))
                    continue
                if r.status not in (200, 201, 204):
                    report.errors.append(f"{layer} {uid}: the server refused the {kind} feature "
                                         f"({r.status}: {_message(r.body)})")
                    continue
                if kind == "retired":
                    base.drop(layer, uid)
                    report.retired += 1
                    continue
                base.set(layer, uid, r.body["properties"]["version"], st)
                if kind == "new":
                    report.created += 1
                else:
                    report.updated += 1
        return report

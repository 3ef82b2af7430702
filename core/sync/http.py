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
from ..registry.changes import ChangeOutcome, ChangeRequest
from .base import CheckoutBase, SyncError, SyncReport, change_set, push_id, record_push

PAGE = 1000
#: seconds a push's one request may take (a large change set is written in one batch)
PUSH_TIMEOUT = 600
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

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, *,
                timeout: float | None = None) -> _Response:
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
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as r:
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
        """The whole change set in **one** request, ``POST /transactions``: the server applies it in one batch
        (all of it or, if anything dies, none of it) and answers each change's outcome; the server names the key's
        holder as the author. Sent under the check-out's push id, so a push sent again after its answer was lost
        lands once."""
        changes = change_set(reg, base, todo, layers)
        if not changes:
            return record_push(reg, base, [], [])
        pid = push_id(base)
        body = {"id": pid, "semantic": "batch", "comment": f"pushed from {source}",
                "actions": [_action(c) for c in changes]}
        r = self.client.request("POST", "/transactions", body, {"Content-Type": "application/json"},
                                timeout=PUSH_TIMEOUT)
        if r.status == 404 and not (isinstance(r.body, dict) and r.body.get("results")):
            raise SyncError(f"{self.url} takes no one-request push (POST /transactions): it runs an older "
                            "Rallypoint; upgrade the server")
        if r.status not in (200, 409) or not isinstance(r.body, dict) or "results" not in r.body:
            raise SyncError(f"POST {self.url}/transactions: {r.status} {_message(r.body)}; nothing was recorded as "
                            "sent (push again: what the server took is not written twice)")
        results = r.body["results"]
        if len(results) != len(changes):
            raise SyncError(f"{self.url}: the answer names {len(results)} changes, {len(changes)} were sent")
        if progress is not None:
            progress(len(changes))
        return record_push(reg, base, changes, [_outcome(c, o) for c, o in zip(changes, results)])


_ACTIONS = {"new": "insert", "changed": "update", "retired": "delete"}


def _action(c: ChangeRequest) -> dict[str, Any]:
    """One change as an action of a transaction (geometries in CRS84, the stored longitude/latitude)."""
    action: dict[str, Any] = {"action": _ACTIONS[c.kind], "collection": c.layer, "id": c.uuid}
    if c.kind != "new":
        action["baseVersion"] = c.base_version
    if c.kind != "retired":
        item: dict[str, Any] = {"type": "Feature", "properties": c.properties}
        if c.geometry is not None:
            item["geometry"] = geo.mapping(c.geometry)
        action["item"] = item
    return action


_OUTCOMES = {"inserted": "applied", "updated": "applied", "deleted": "applied", "already-applied": "already",
             "conflict": "conflict", "refused": "refused", "not-found": "missing", "not-applied": "not-applied"}


def _outcome(c: ChangeRequest, got: dict[str, Any]) -> ChangeOutcome:
    feature = None
    if got.get("feature"):
        f = got["feature"]
        geom = f.get("geometry")
        feature = Feature(c.layer, dict(f.get("properties") or {}),
                          None if geom is None else geo.from_user(geom))
    outcome = _OUTCOMES.get(got.get("outcome"), "refused")
    message = got.get("message") or ""
    if got.get("problems"):
        message = "; ".join(f"{p['field'] + ': ' if p.get('field') else ''}{p.get('message')}" for p in got["problems"])
    return ChangeOutcome(c.layer, c.uuid, c.kind, outcome, got.get("version"), message, feature=feature)

"""The request an API function takes: plain data, no web framework.

>>> req = Request(args=QueryArgs.parse("limit=10&status=open"), headers=Headers({"Accept": "text/html"}))
>>> req.args.get("limit"), req.args.getlist("status"), req.headers.get("accept")
('10', ['open'], 'text/html')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from .errors import BadRequest

if TYPE_CHECKING:  # pragma: no cover
    from .auth import Principal


class QueryArgs(Mapping[str, str]):
    """Query arguments as a multi-dict: ``get`` gives the first value, ``getlist`` all of them."""

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, Any] = ()):
        self._items: dict[str, list[str]] = {}
        pairs = items.items() if isinstance(items, Mapping) else items
        for k, v in pairs:
            values = v if isinstance(v, (list, tuple)) else [v]
            self._items.setdefault(k, []).extend(str(x) for x in values)

    @classmethod
    def parse(cls, query: str) -> QueryArgs:
        return cls(parse_qsl(query, keep_blank_values=True))

    def __getitem__(self, key: str) -> str:
        return self._items[key][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def getlist(self, key: str) -> list[str]:
        return list(self._items.get(key, []))

    def pairs(self) -> list[tuple[str, str]]:
        return [(k, v) for k, vs in self._items.items() for v in vs]

    def single(self, key: str) -> str | None:
        """The one value of ``key`` (None when absent); given twice is a 400."""
        values = self._items.get(key)
        if not values:
            return None
        if len(values) > 1:
            raise BadRequest(f"parameter {key!r} is given {len(values)} times; give it once")
        return values[0]

    def encode(self, **override: Any) -> str:
        """The query string with some arguments replaced (None removes one); ``bbox_crs`` means ``bbox-crs``."""
        encoded = self.__dict__.get("_encoded")
        if encoded is None:  # each argument quoted once, however many links are built from it
            encoded = self._encoded = {k: urlencode([(k, v) for v in vs]) for k, vs in self._items.items()}
        given = {k.replace("_", "-") if k == "bbox_crs" else k: v for k, v in override.items()}
        parts = [text for k, text in encoded.items() if k not in given]
        parts += [urlencode([(k, str(v))]) for k, v in given.items() if v is not None]
        return "&".join(p for p in parts if p)


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only headers."""

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()):
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items = {k.lower(): v for k, v in pairs}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._items.get(key.lower(), default)


@dataclass
class Request:
    """One HTTP request, as the API sees it.

    ``base_url`` is the server's root URL without a trailing slash (links are built on it);
    ``principal`` is the authenticated API key's owner and role (or the signed-in account's), ``None`` for
    anonymous users; ``csrf_token``, for a browser signed in with a session, gives the token its forms send back
    (the web layer makes and checks it).
    """

    method: str = "GET"
    path: str = "/"
    path_params: dict[str, str] = field(default_factory=dict)
    args: QueryArgs = field(default_factory=QueryArgs)
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    principal: Principal | None = None
    base_url: str = "http://localhost"
    csrf_token: Callable[[], str] | None = None

    def url(self, path: str, query: str = "") -> str:
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")


def _accept(header: str) -> list[tuple[str, float]]:
    out = []
    for i, part in enumerate(header.split(",")):
        bits = [b.strip() for b in part.split(";")]
        if not bits[0]:
            continue
        q = 1.0
        for b in bits[1:]:
            if b.startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        out.append((bits[0].lower(), q - i * 1e-6))  # ties keep the client's order
    return out


def output_format(req: Request, allowed: tuple[str, ...] = ("json", "html")) -> str:
    """``json`` or ``html``: the ``f`` parameter wins, else the Accept header (a browser asks for HTML)."""
    f = req.args.single("f")
    if f is not None:
        f = f.lower()
        aliases = {"geojson": "json", "application/json": "json", "application/geo+json": "json",
                   "text/html": "html"}
        f = aliases.get(f, f)
        if f not in allowed:
            raise BadRequest(f"f={req.args.get('f')!r} is not a format offered here ({', '.join(allowed)})")
        return f
    accept = req.headers.get("accept")
    if not accept:
        return allowed[0]
    best_json = best_html = -1.0
    for media, q in _accept(accept):
        if q <= 0:
            continue
        if media in ("application/json", "application/geo+json", "application/vnd.oai.openapi+json",
                     "application/schema+json") or media.endswith("+json"):
            best_json = max(best_json, q)
        elif media in ("text/html", "application/xhtml+xml"):
            best_html = max(best_html, q)
        elif media in ("*/*", "application/*"):
            best_json = max(best_json, q - 0.5)
    if "html" in allowed and best_html > best_json:
        return "html"
    return "json" if "json" in allowed else allowed[0]  # anything else: the default, as most servers do


def check_params(req: Request, allowed: Iterable[str]) -> None:
    """Unknown query parameters are a 400, naming them and what is accepted."""
    known = set(allowed)
    unknown = [k for k in req.args if k not in known]
    if unknown:
        raise BadRequest(f"unknown query parameter(s): {', '.join(sorted(unknown))} "
                         f"(accepted here: {', '.join(sorted(known))})")

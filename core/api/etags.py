"""Entity tags and conditional requests.

A feature's strong ETag names its version, ``"<uuid>-v<version>"`` (a reference feature,
which has no version, gets a weak tag from its layer's last change). Lists get a weak tag
from the layer's ``last_change`` in ``gpkg_contents`` and what was asked. The gzip layer
appends ``:gzip`` to strong tags it compresses; comparisons here ignore such a suffix.
"""

from __future__ import annotations

import hashlib
import re

from .errors import BadRequest, PreconditionFailed

_SUFFIX = re.compile(r":(gzip|br|zstd|deflate)$")
_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')


def feature_etag(uuid: str, version: int) -> str:
    return f'"{uuid}-v{version}"'


def weak_etag(*parts: object) -> str:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()
    return f'W/"{digest}"'


def _tags(header: str) -> list[tuple[bool, str]] | None:
    """The tags of an If-Match / If-None-Match header; None for ``*``."""
    if header.strip() == "*":
        return None
    out = []
    pos = 0
    header = header.strip()
    while pos < len(header):
        m = _TAG.match(header, pos)
        if not m:
            raise BadRequest(f"{header!r} is not a list of entity tags (quoted, e.g. \"abc-v3\")")
        out.append((bool(m.group(1)), _SUFFIX.sub("", m.group(2))))
        pos = m.end()
    return out


def _opaque(etag: str) -> tuple[bool, str]:
    weak = etag.startswith("W/")
    return weak, _SUFFIX.sub("", etag[2:] if weak else etag).strip('"')


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """True when If-None-Match matches ``etag`` (weak comparison): answer 304."""
    if not if_none_match:
        return False
    tags = _tags(if_none_match)
    if tags is None:
        return True
    _, mine = _opaque(etag)
    return any(t == mine for _, t in tags)


def matching_versions(if_match: str | None, uuid: str) -> set[int] | None:
    """The versions an ``If-Match`` header accepts (None without one, or for ``*``).

    A tag that is not one of this feature's is stale by definition: 412.
    """
    if not if_match:
        return None
    tags = _tags(if_match)
    if tags is None:
        return None
    versions = []
    for weak, tag in tags:
        m = re.fullmatch(re.escape(uuid) + r"-v(\d+)", tag)
        if m and not weak:  # If-Match uses the strong comparison
            versions.append(int(m.group(1)))
    if not versions:
        raise PreconditionFailed(f"If-Match {if_match!r} does not match feature {uuid}")
    return set(versions)

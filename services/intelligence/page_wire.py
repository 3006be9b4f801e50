"""A high-intent page written straight to protobuf wire bytes, from per-lead row templates.

Profiling the uncached ListHighIntentLeads at 1 M leads showed ~5 ms of CPU per page of 50 in
Python: decoding each row's jsonb, rebuilding its fit factors, texts, model inputs and ~7
protobuf messages, then serialising the response. Most of a row does not change while the lead
does nothing: its ids, fit factors, the names and texts of its engagement factors, and the part
of its conversion logit that comes from fit. Only the decayed numbers do. So:

- A `RowTemplate` holds a row's unchanging part already encoded, plus what the decayed numbers
  are computed from. `RowTemplates` keeps them per process (LRU), keyed by the lead and the row
  version PostgreSQL gives the stored parts (`xmin`, new on every write of the row), and by the
  points and model versions the template used: any rescore, new points or retrained model is a
  miss, never a stale row.
- `render` computes score, tier, engagement factors and probability as of the listing's time
  with the same float operations, in the same order, as `page_views.page_protos` (a unit test
  holds the decoded bytes equal to it), and appends them as wire fields.
- The response is returned to gRPC as bytes (see `wire.add_to_server`), so a cached first page
  is sent as stored, without building or serialising a message.

A parser accepts a message's fields in any order and concatenates repeated ones, so a row's
fixed fields come first and its fit factors (field 5) are followed by its engagement factors.
"""

from __future__ import annotations

import math
import struct
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from services.intelligence.conversion import BEHAVIOUR_GROUPS, Model
from services.intelligence.score_parts import NO_ENGAGEMENT, KindMass, Parts
from services.intelligence.scoring import (
    _EVENT_NOUNS,
    ENGAGEMENT_MAX,
    Points,
    Rules,
    fit_factors,
    timeline_band,
)

_pack_double = struct.Struct("<d").pack
_LN_ENG = math.log1p(ENGAGEMENT_MAX)
_LN_BEHAVIOUR = math.log1p(20.0)
_CAP_TEXT = f"engagement counts for at most {ENGAGEMENT_MAX:g} points"


def varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_VARINTS = [varint(n) for n in range(1 << 14)]  # the lengths a row or factor has


def length_delimited(field: int, payload: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def string_field(field: int, text: str) -> bytes:
    return length_delimited(field, text.encode()) if text else b""


def double_field(field: int, value: float) -> bytes:
    return varint(field << 3 | 1) + _pack_double(value)


# ScoreFactor: name = 1, points = 2 (double), description = 3.
def _factor_head(name: str, description: str) -> bytes:
    return string_field(1, name) + string_field(3, description)


def _factor(head: bytes, points: float) -> bytes:
    """LeadIntelligence.factors = 5; head is the factor's name and description, 9 bytes short of
    its length (the points field)."""
    n = len(head) + 9
    return (
        b"\x2a" + (_VARINTS[n] if n < 16384 else varint(n)) + head + b"\x11" + _pack_double(round(points, 2))
    )


_CAP_HEAD = _factor_head("engagement_cap", _CAP_TEXT)
_TIER_FIELDS: dict[int, bytes] = {int(v): b"\x20" + varint(v) for v in pb.ScoreTier.values()}


def _feature_prefix(parts: Parts) -> list[tuple[str, float]]:
    """conversion.feature_values' first entries (the fit attributes), in its order."""
    p = parts.profile
    band = timeline_band(p.timeline_months)
    return [
        ("bias", 1.0),
        ("preapproved", float(p.preapproved)),
        ("budget", float(p.budget_usd > 0)),
        ("timeline_3m", float(band == "timeline_3m")),
        ("timeline_6m", float(band == "timeline_6m")),
        ("timeline_12m", float(band == "timeline_12m")),
        ("phone", float(p.has_phone)),
        ("email", float(p.has_email)),
        (f"source_{p.source}", 1.0),
    ]


@dataclass(frozen=True, slots=True)
class RowTemplate:
    head: bytes  # lead_id, location_id and the fit factors, encoded
    kinds: tuple[tuple[str, float, float, bytes], ...]  # kind, points when fresh, log mass, factor head
    eng_key: float
    fit_logit: float  # the running sum of weight x value over the fit features
    w_engagement: float
    w_engagement_log: float
    groups: tuple[tuple[float, tuple[float, ...]], ...]  # per behaviour group: weight, member log masses

    def render(self, lam_t: float, score: float, tier: int, tail: bytes) -> bytes:
        """The LeadIntelligence row as of the time whose rate x day number is lam_t, with the
        listing's score (unrounded); `tail` holds the page's score_time and model_version fields."""
        # Heaviest first, then by kind (kinds are unique, so the heads are never compared).
        earned = sorted(
            (-(points * math.exp(mass - lam_t)), kind, head) for kind, points, mass, head in self.kinds
        )
        out = [self.head]
        total = 0.0
        for negative, _kind, head in earned:
            out.append(_factor(head, -negative))
            total += -negative
        if total > ENGAGEMENT_MAX:
            out.append(_factor(_CAP_HEAD, ENGAGEMENT_MAX - total))
        engagement = 0.0 if self.eng_key == NO_ENGAGEMENT else math.exp(self.eng_key - lam_t)
        z = self.fit_logit
        z += self.w_engagement * (min(max(engagement, 0.0), ENGAGEMENT_MAX) / ENGAGEMENT_MAX)
        z += self.w_engagement_log * (math.log1p(max(engagement, 0.0)) / _LN_ENG)
        for weight, masses in self.groups:  # groups without events add weight x 0.0: left out
            count = sum(math.exp(m - lam_t) for m in masses)
            z += weight * (math.log1p(max(count, 0.0)) / _LN_BEHAVIOUR)
        probability = 1.0 / (1.0 + math.exp(-min(max(z, -35.0), 35.0)))
        rounded = round(score, 2)
        out.append(b"\x19" + _pack_double(rounded))  # score = 3
        out.append(_TIER_FIELDS[tier])  # tier = 4
        out.append(tail)
        out.append(b"\x41" + _pack_double(probability))  # conversion_probability = 8
        return b"".join(out)


def build_template(
    lead_id: uuid.UUID,
    location_id: str,
    parts: Parts,
    eng_key: float,
    points: Points,
    model: Model,
    rules: Rules,
) -> RowTemplate:
    head = string_field(1, str(lead_id)) + string_field(2, location_id)
    for f in fit_factors(parts.profile, points):
        head += _factor(_factor_head(f.name, f.description), f.points)
    kinds = []
    for kind, mass in parts.kinds.items():
        fresh = points.event(kind)
        if fresh <= 0 or mass.log_mass == NO_ENGAGEMENT:
            continue
        noun = _EVENT_NOUNS.get(kind, kind.replace("_", " "))
        text = (
            f"{mass.counted} {noun}(s) in the last {rules.window_days} days, worth "
            f"{fresh:g} each when fresh and half as much every {rules.half_life_days:g} days"
        )
        if mass.capped:
            text += f"; {mass.capped} more ignored (over {rules.daily_cap} a day)"
        kinds.append((kind, fresh, mass.log_mass, _factor_head(kind, text)))
    weight = model.weight_of
    # sum() from 0, in feature_values' order, so the logit is the same float predict_values makes.
    fit_logit: float = 0
    for name, value in _feature_prefix(parts):
        fit_logit += weight.get(name, 0.0) * value
    return RowTemplate(
        head=head,
        kinds=tuple(kinds),
        eng_key=eng_key,
        fit_logit=fit_logit,
        w_engagement=weight.get("engagement", 0.0),
        w_engagement_log=weight.get("engagement_log", 0.0),
        groups=tuple(
            (weight.get(f"behaviour_{group}", 0.0), masses)
            for group, members in BEHAVIOUR_GROUPS.items()
            if (masses := _group_masses(parts.kinds, members))
        ),
    )


def _group_masses(kinds: Mapping[str, KindMass], members: tuple[str, ...]) -> tuple[float, ...]:
    return tuple(kinds[k].log_mass for k in members if k in kinds)


TemplateKey = tuple[uuid.UUID, int, int, int]  # lead, row version (xmin), points version, model version


class RowTemplates:
    """Per-process LRU of row templates; see the module docstring for why a hit is never stale."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: OrderedDict[TemplateKey, RowTemplate] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: TemplateKey) -> RowTemplate | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: TemplateKey, template: RowTemplate) -> None:
        if self._max <= 0:
            return
        self._entries[key] = template
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def response_bytes(rows: list[bytes], next_page_token: str, score_time: bytes) -> bytes:
    """ListHighIntentLeadsResponse: leads = 1, next_page_token = 2, score_time = 3 (an encoded
    Timestamp)."""
    out = [b"\x0a" + (_VARINTS[len(r)] if len(r) < 16384 else varint(len(r))) + r for r in rows]
    out.append(string_field(2, next_page_token))
    out.append(length_delimited(3, score_time))
    return b"".join(out)


def timestamp_bytes(at: datetime) -> bytes:
    stamp = Timestamp()
    stamp.FromDatetime(at.astimezone(UTC))
    return stamp.SerializeToString()


def page_tail(score_time: bytes, model_version: str) -> bytes:
    """A row's score_time = 6 and model_version = 7 fields, the same on every row of a page."""
    return length_delimited(6, score_time) + string_field(7, model_version)


TIER_VALUES: dict[str, int] = {
    "cold": pb.SCORE_TIER_COLD,
    "warm": pb.SCORE_TIER_WARM,
    "hot": pb.SCORE_TIER_HOT,
}

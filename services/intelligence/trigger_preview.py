"""EvaluateTriggers' answer: a rule that would fire now, as the Trigger message.

`type` predates rules as data; it names the rule's closest fixed kind so callers that
switch on it keep working, and rule_id says exactly which rule it is.
"""

from __future__ import annotations

from datetime import datetime

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from services.intelligence.trigger_rules import Match, Rule
from shared import timestamps

_SAVES = frozenset({ingest_pb.EVENT_TYPE_FAVORITE, ingest_pb.EVENT_TYPE_SAVED_SEARCH})


def trigger_type(rule: Rule) -> pb.TriggerType.ValueType:
    if rule.condition == pb.TRIGGER_CONDITION_SAME_LISTING_VIEWS:
        return pb.TRIGGER_TYPE_SINGLE_PROPERTY_INTEREST
    if rule.condition == pb.TRIGGER_CONDITION_RETURN_AFTER_INACTIVITY:
        return pb.TRIGGER_TYPE_RETURN_AFTER_DORMANCY
    if rule.condition == pb.TRIGGER_CONDITION_EVENT_COUNT and rule.event_types:
        kinds = set(rule.event_types)
        if kinds <= _SAVES:
            return pb.TRIGGER_TYPE_FAVORITE
        if kinds == {ingest_pb.EVENT_TYPE_LISTING_VIEW}:
            return pb.TRIGGER_TYPE_BINGE_BROWSING
    return pb.TRIGGER_TYPE_UNSPECIFIED


def rule_trigger_to_proto(rule: Rule, match: Match, now: datetime) -> pb.Trigger:
    return pb.Trigger(
        type=trigger_type(rule),
        description=match.description,
        listing_id=match.listing_id,
        fire_time=timestamps.to_proto(now),
        rule_id=rule.rule_id,
        rule_version=rule.version,
        condition=rule.condition,  # type: ignore[arg-type]
        hot=rule.hot,
        event_ids=list(match.event_ids),
    )

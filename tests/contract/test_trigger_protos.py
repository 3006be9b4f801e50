"""The contract the issues fix for trigger rules and reply analysis: names exactly as published."""

from __future__ import annotations

from leadengine.content.v1 import content_service_pb2 as content
from leadengine.intelligence.v1 import intelligence_service_pb2 as intelligence


def test_intelligence_serves_trigger_rules_as_data() -> None:
    methods = set(intelligence.DESCRIPTOR.services_by_name["IntelligenceService"].methods_by_name)
    assert {"UpsertTriggerRule", "ListTriggerRules", "FireTriggers", "ListTriggerFirings"} <= methods


def test_analyze_reply_takes_lead_id_and_body_and_answers_score_and_intent() -> None:
    assert "AnalyzeReply" in content.DESCRIPTOR.services_by_name["ContentService"].methods_by_name
    assert {"lead_id", "body"} <= set(content.AnalyzeReplyRequest.DESCRIPTOR.fields_by_name)
    assert {"score", "intent"} <= set(content.AnalyzeReplyResponse.DESCRIPTOR.fields_by_name)
    intents = {v.name.removeprefix("REPLY_INTENT_").lower() for v in content.ReplyIntent.DESCRIPTOR.values}
    assert {"interested", "question", "not_now", "wrong_person", "angry", "opt_out_like"} <= intents


def test_trigger_is_a_message_purpose_with_its_context() -> None:
    assert content.MessagePurpose.Value("MESSAGE_PURPOSE_TRIGGER") == content.MESSAGE_PURPOSE_TRIGGER
    assert {"trigger_description", "listing_label"} <= set(content.MessageContext.DESCRIPTOR.fields_by_name)

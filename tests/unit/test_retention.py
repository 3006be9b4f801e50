from __future__ import annotations

import pytest

from services.coordinator.retention import RULES as COORDINATOR_RULES
from services.ingest.retention import RULES as INGEST_RULES
from services.intelligence.retention import RULES as INTELLIGENCE_RULES
from services.routing.retention import RULES as ROUTING_RULES
from shared import retention
from shared.config import ConfigError

# Compliance keeps these for years (compliance.md: opt-outs 10 years in Virginia).
KEPT = ("consent", "suppression", "communications", "notifications")


def test_no_rule_touches_a_compliance_record() -> None:
    for rule in (*INGEST_RULES, *COORDINATOR_RULES, *ROUTING_RULES, *INTELLIGENCE_RULES):
        assert not any(table in rule.sql for table in KEPT), rule.name


def test_every_keep_can_be_set_but_never_below_a_day() -> None:
    rules = retention.configured("ingest", INGEST_RULES, {"INGEST_RETAIN_REQUEST_IDS_DAYS": "45"})
    assert {r.name: r.keep_days for r in rules}["request_ids"] == 45
    with pytest.raises(ConfigError, match="INGEST_RETAIN_OUTBOX_DAYS"):
        retention.configured("ingest", INGEST_RULES, {"INGEST_RETAIN_OUTBOX_DAYS": "0.5"})


def test_the_inbox_row_outlives_its_payload() -> None:
    keep = {r.name: r.keep_days for r in INGEST_RULES}
    assert keep["inbox"] > keep["inbox_payload"]

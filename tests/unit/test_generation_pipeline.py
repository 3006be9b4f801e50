"""The guardrail pipeline: a model's failing draft is regenerated once with feedback, then
replaced by the template writer's; a failing override gives way to the built-in template;
a failing built-in template is refused loudly. The model writer here is a test double of
the MessageWriter protocol (unit tests only); the template writer is the real one."""

from __future__ import annotations

import uuid

import pytest

from services.content import guardrails, verdicts
from services.content.config import Config
from services.content.generation import GUARDRAIL_REJECTED, Generation
from services.content.templates import Override, TemplateWriter
from services.content.writer import CLAUDE, EMAIL, FALLBACK, FIRST_TOUCH, SMS, TEMPLATE, Draft, Facts, Written
from shared.config import ServerSettings
from shared.errors import FailedPrecondition

ADDRESS = "100 Congress Ave, Austin, TX 78701"
CFG = Config(database_url="postgresql://unused/x", server=ServerSettings.from_env("content", {}))
POLICY = verdicts.Policy(postal_address=ADDRESS)
FACTS = Facts(lead_first_name="Maria", agent_name="Ana Lopez", city="Austin", brand_name="Oak Realty")


class ScriptedWriter:
    """Writes the given bodies in turn, and remembers each draft it was handed."""

    def __init__(self, *bodies: str) -> None:
        self.bodies = list(bodies)
        self.drafts: list[Draft] = []

    async def write(self, draft: Draft) -> Written:
        self.drafts.append(draft)
        return Written(subject="Hello", body=self.bodies.pop(0), generator=CLAUDE, model="claude-test")


def generation(writer: object, templates: TemplateWriter) -> Generation:
    return Generation(None, writer, templates, CFG, None)  # type: ignore[arg-type]


def draft(channel: str = SMS) -> Draft:
    return Draft(
        lead_id=str(uuid.uuid4()),
        channel=channel,
        purpose=FIRST_TOUCH,
        facts=FACTS,
        max_body_chars=guardrails.body_budget(channel, True),
    )


GOOD = "Hi Maria, Ana Lopez with Oak Realty. When suits you for a quick call?"
STEERING = "Hi Maria, Oak Realty here. It's a safe neighborhood, perfect for families."
INVENTED = "Hi Maria, Oak Realty here. Homes in Austin sell in 9 days, guaranteed."


async def test_a_passing_model_draft_is_kept_as_written() -> None:
    model = ScriptedWriter(GOOD)
    written, found, revisions = await generation(model, TemplateWriter()).write_checked(
        draft(), POLICY, TemplateWriter()
    )
    assert written.generator == CLAUDE
    assert written.body.startswith(GOOD)
    assert revisions == []
    assert all(v.passed for v in found)
    assert len(model.drafts) == 1


async def test_a_failing_model_draft_is_regenerated_once_with_the_failures_as_feedback() -> None:
    model = ScriptedWriter(STEERING, GOOD)
    written, found, revisions = await generation(model, TemplateWriter()).write_checked(
        draft(), POLICY, TemplateWriter()
    )
    assert written.generator == CLAUDE
    assert written.body.startswith(GOOD)
    assert model.drafts[0].feedback == ()
    assert [f.split(":")[0] for f in model.drafts[1].feedback] == ["fair_housing"]
    assert len(revisions) == 1
    assert "fair_housing" in revisions[0]
    assert all(v.passed for v in found)


async def test_a_model_failing_twice_is_replaced_by_the_template() -> None:
    model = ScriptedWriter(STEERING, INVENTED)
    written, found, revisions = await generation(model, TemplateWriter()).write_checked(
        draft(), POLICY, TemplateWriter()
    )
    # Claude was asked and a template wrote it: flagged, never passed off as either.
    assert (written.generator, written.fallback_reason) == (FALLBACK, GUARDRAIL_REJECTED)
    assert written.model.startswith("sms.first_touch.")
    assert len(model.drafts) == 2  # never a third paid call
    assert "numbers" in revisions[1]
    assert "promises" in revisions[1]
    assert all(v.passed for v in found)


async def test_a_failing_email_draft_falls_back_the_same_way() -> None:
    model = ScriptedWriter("See https://zillow.com/x", "See bit.ly/abc")
    written, _, revisions = await generation(model, TemplateWriter()).write_checked(
        draft(EMAIL), POLICY, TemplateWriter()
    )
    assert (written.generator, written.fallback_reason) == (FALLBACK, GUARDRAIL_REJECTED)
    assert guardrails.UNSUBSCRIBE_PLACEHOLDER in written.body
    assert ADDRESS in written.body
    assert [r.split(" ")[0] for r in revisions] == ["claude", "claude"]


async def test_template_drafts_are_never_regenerated() -> None:
    templates = TemplateWriter()
    written, _, revisions = await generation(templates, templates).write_checked(draft(), POLICY, templates)
    assert written.generator == TEMPLATE
    assert revisions == []


async def test_a_failing_override_gives_way_to_the_built_in_template() -> None:
    base = TemplateWriter()
    bad = base.with_overrides({(SMS, FIRST_TOUCH, "en"): Override("", "{{ brand }}: homes sell in 9 days.")})
    written, found, revisions = await generation(base, base).write_checked(draft(), POLICY, bad)
    assert ".override." not in written.model
    assert "override" in revisions[0]
    assert all(v.passed for v in found)


async def test_a_failing_built_in_template_is_refused_loudly() -> None:
    base = TemplateWriter()
    # A one-segment cap cannot hold any first touch with its STOP line and a long brand.
    tight = Draft(
        lead_id=str(uuid.uuid4()),
        channel=SMS,
        purpose=FIRST_TOUCH,
        facts=Facts(lead_first_name="Maximiliana", agent_name="B" * 40, brand_name="E" * 50),
        max_body_chars=300,
        max_segments=1,
    )
    with pytest.raises(FailedPrecondition) as exc:
        await generation(base, base).write_checked(tight, verdicts.Policy(sms_max_segments=1), base)
    assert exc.value.reason == "CONTENT_GUARDRAIL"
    assert exc.value.metadata["rule"] == "sms_segments"

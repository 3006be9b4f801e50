"""What a template is made of: clauses of sandboxed Jinja2 alternatives. Pure: no I/O.

Every text is compiled once by a SandboxedEnvironment with StrictUndefined, so a
template can read only the variables below (a typo fails at import or on load,
never as an empty gap) and can call nothing unsafe even when a location wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from services.content.writer import EMAIL, PURPOSE_NAMES, SMS

# What a template may say, by variable name. Empty string = unknown.
VARIABLES: dict[str, str] = {
    "name": "the lead's first name",
    "greeting_name": "the lead's first name, or a word for 'there' in the message's language",
    "agent": "the agent's name",
    "agent_phone": "the agent's phone, formatted for reading",
    "brand": "the sending brand",
    "city": "the lead's city",
    "source": "where the lead came from, e.g. 'web form'",
    "lead_full_name": "the lead's full name (agent notifications)",
    "score": "the lead's score out of 100 (agent notifications)",
    "listing": "the listing's address (triggers)",
    "value_proposition": "one of the location's value propositions (re-engagement)",
    "market_area": "the ZIP or city the market facts describe",
    "market_price": "the fresh median sale price, e.g. $425,000",
    "market_days": "the fresh median days on market",
    "market_inventory": "the fresh number of active listings",
    "market_as_of": "the month the market facts describe, e.g. October 2026",
    "appointment": "when and where the appointment is (reminders)",
}

ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


@dataclass(frozen=True)
class Text:
    source: str
    compiled: jinja2.Template
    fields: frozenset[str]

    def render(self, values: dict[str, str]) -> str:
        return self.compiled.render(values)


def compile_text(source: str) -> Text:
    """Raises jinja2.TemplateSyntaxError, or ValueError naming variables outside VARIABLES."""
    names = frozenset(meta.find_undeclared_variables(ENV.parse(source)))
    unknown = sorted(names - VARIABLES.keys())
    if unknown:
        raise ValueError(f"unknown variable(s) {', '.join(unknown)}; known: {', '.join(VARIABLES)}")
    return Text(source, ENV.from_string(source), names)


@dataclass(frozen=True)
class Clause:
    alternatives: tuple[Text, ...]
    optional: bool = False


@dataclass(frozen=True)
class Template:
    key: str  # variant letter, part of the template id
    subject: tuple[Text, ...]  # alternatives; email only
    clauses: tuple[Clause, ...]
    joiner: str = " "


def req(*alternatives: str) -> Clause:
    return Clause(tuple(compile_text(a) for a in alternatives))


def opt(*alternatives: str) -> Clause:
    return Clause(tuple(compile_text(a) for a in alternatives), optional=True)


def template(key: str, subject: tuple[str, ...], *clauses: Clause, joiner: str = " ") -> Template:
    return Template(key, tuple(compile_text(s) for s in subject), clauses, joiner)


def catalogue(names: Mapping[str, object]) -> dict[tuple[str, str], tuple[Template, ...]]:
    """A language's templates by (channel, purpose), from the `<CHANNEL>_<PURPOSE>` tuples its
    module defines (SMS_FIRST_TOUCH, EMAIL_TRIGGER, ...): every language names its variants
    the same way, so one index serves them all. A purpose a language does not write (Spanish
    agent notifications stay English) is absent."""
    found: dict[tuple[str, str], tuple[Template, ...]] = {}
    for channel in (SMS, EMAIL):
        for purpose in PURPOSE_NAMES:
            variants = names.get(f"{channel}_{purpose}".upper())
            if variants is None:
                continue
            if not (
                isinstance(variants, tuple) and variants and all(isinstance(v, Template) for v in variants)
            ):
                raise TypeError(f"{channel}_{purpose}".upper() + " must be a non-empty tuple of templates")
            found[(channel, purpose)] = variants
    return found

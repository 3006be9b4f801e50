"""What a lead's reply means (AnalyzeReply): a deterministic lexicon model. Pure: no I/O.

Each cue is a phrase (a run of words, apostrophes dropped) that argues for an intent
with a weight and carries a sentiment valence. Longer phrases are matched first and
own their words, so "not interested" is never also read as "interested". The intent
with the most weight wins, ties going to the more cautious one (opt-out-like first);
the score is the sum of valences squashed into -1..1. Every cue that matched is
returned, so an agent can see why.

Advisory only: an opt-out-like reply is for a person to read. Whether a message
revokes consent is decided by the coordinator's compliance rules, never here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MODEL = "lexicon.v1"

INTERESTED = "interested"
QUESTION = "question"
NOT_NOW = "not_now"
WRONG_PERSON = "wrong_person"
ANGRY = "angry"
OPT_OUT_LIKE = "opt_out_like"
UNCLEAR = "unclear"
# Ties go to the intent whose mistake costs most if missed.
PRIORITY = (OPT_OUT_LIKE, WRONG_PERSON, ANGRY, NOT_NOW, QUESTION, INTERESTED)


@dataclass(frozen=True)
class Cue:
    phrase: str
    intent: str  # "" for sentiment only
    weight: float
    valence: float


def _cues(intent: str, weight: float, valence: float, *phrases: str) -> list[Cue]:
    return [Cue(p, intent, weight, valence) for p in phrases]


LEXICON: tuple[Cue, ...] = tuple(
    _cues(OPT_OUT_LIKE, 3, -0.5, "remove me", "remove my number", "take me off", "off your list",
          "dont text me", "do not text me", "stop texting", "stop sending", "stop messaging", "stop emailing",
          "unsubscribe", "unsubscribe me", "dont want any more", "no more texts", "no more messages",
          "no more emails", "do not contact me", "dont contact me", "lose my number", "opt me out",
          "stop contacting", "dont want these", "dont want your")
    + _cues(WRONG_PERSON, 3, -0.2, "wrong number", "wrong person", "by that name", "never filled out",
            "didnt sign up", "did not sign up", "not my phone", "not my number", "new number",
            "dont know who you are", "you have the wrong", "dont know any", "number belongs to")
    + _cues(ANGRY, 3, -0.8, "leave me alone", "stop bothering", "harassment", "harassing", "the hell",
            "report you", "knock it off", "go away", "piss off", "sick of", "enough already",
            "who gave you my number")
    + _cues(ANGRY, 2, -0.6, "ridiculous", "annoying", "unprofessional", "spamming", "spam", "keep texting me",
            "keep messaging", "scam", "stupid", "fed up", "third time", "how did you get my number")
    + _cues(NOT_NOW, 3, -0.1, "not right now", "not at the moment", "maybe later", "not yet",
            "not ready yet", "not this year", "not a good time", "reach out again")
    + _cues(NOT_NOW, 2, -0.1, "not ready", "next year", "in the spring", "in the fall", "in the summer",
            "few months", "couple of months", "couple months", "check back", "holding off", "hold off",
            "wait a", "too busy", "just browsing", "not looking", "not interested", "no longer looking",
            "down the road", "saving up", "for now", "after the holidays")
    + _cues(NOT_NOW, 1, 0.0, "maybe", "later", "someday", "eventually")
    + _cues(INTERESTED, 3, 0.7, "make an offer", "put in an offer", "schedule a tour", "schedule a showing",
            "set up a showing", "set something up", "count me in", "ready to start", "ready to buy",
            "works for me", "see it in person", "love to see", "would love to", "id love to",
            "very interested", "great timing", "lets go see", "like to tour", "like to see", "lets do")
    + _cues(INTERESTED, 2, 0.5, "interested", "call me", "send me", "sounds great", "sounds good",
            "a showing", "a tour", "open house", "absolutely", "definitely", "perfect", "love it",
            "lets do it", "set up", "ready to", "looks great", "when can we", "can we see",
            "talking about moving")
    + _cues(INTERESTED, 1, 0.4, "yes", "yeah", "yep", "sure", "ok", "okay", "works", "please")
    + _cues(QUESTION, 1, 0.0, "how many", "how much", "hoa", "taxes", "school district", "still available",
            "tell me more", "do you know", "what about", "is there", "does it")
    + _cues("", 0, 0.3, "thanks", "thank you", "great", "awesome", "nice", "love", "excited")
    + _cues("", 0, -0.5, "hate", "terrible", "awful", "worst", "rude")
)  # fmt: skip

# Whole-message shapes a word list cannot say: "I'm not Jessica", "this isn't Mike's phone".
_PATTERNS: tuple[tuple[re.Pattern[str], Cue], ...] = (
    # A bare keyword (the coordinator's compliance rules decide what it does).
    (
        re.compile(r"^(?:stop|stopall|unsubscribe|cancel|end|quit|revoke|optout|opt out)$"),
        Cue("<opt-out keyword>", OPT_OUT_LIKE, 3, -0.5),
    ),
    (
        re.compile(r"^(?:im|i am) not (?!interested|ready|looking|sure|buying|selling|moving|home)[a-z]+$"),
        Cue("I'm not <name>", WRONG_PERSON, 3, -0.2),
    ),
    (
        re.compile(r"\b(?:isnt|is not) [a-z]+s (?:phone|number)\b"),
        Cue("isn't <name>'s phone", WRONG_PERSON, 3, -0.2),
    ),
)
_QUESTION_FORM = Cue("?", QUESTION, 1.2, 0.0)
_QUESTION_START = frozenset(
    {"what", "whats", "when", "where", "who", "whos", "why", "which", "how", "is", "are", "does", "do"}
    | {"can", "could", "would", "will", "should"}
)
_NEGATORS = frozenset({"not", "no", "never", "dont", "isnt", "wasnt"})


@dataclass(frozen=True)
class Analysis:
    score: float  # -1..1
    intent: str
    cues: tuple[Cue, ...]  # strongest first


def _sentences(body: str) -> list[list[str]]:
    text = body.lower().replace("\u2019", "'").replace("'", "")
    return [words for part in re.split(r"[.!?;\n]+", text) if (words := re.findall(r"[a-z0-9$]+", part))]


def _match(words: list[str], used: list[bool]) -> list[Cue]:
    """Cues found in one sentence, longest phrases first, each word used once."""
    found: list[Cue] = []
    for cue in sorted(LEXICON, key=lambda c: (-len(c.phrase.split()), -c.weight)):
        size = len(phrase := cue.phrase.split())
        for start in range(len(words) - size + 1):
            span = range(start, start + size)
            if words[start : start + size] == phrase and not any(used[i] for i in span):
                for i in span:
                    used[i] = True
                negated = not cue.intent and start > 0 and words[start - 1] in _NEGATORS
                found.append(
                    Cue(cue.phrase, cue.intent, cue.weight, -cue.valence if negated else cue.valence)
                )
    return found


def analyze(body: str) -> Analysis:
    sentences = _sentences(body)
    cues: list[Cue] = []
    for words in sentences:
        cues.extend(_match(words, [False] * len(words)))
    flat = " ".join(" ".join(s) for s in sentences)
    cues.extend(cue for pattern, cue in _PATTERNS if pattern.search(flat))
    if "?" in body or any(s[0] in _QUESTION_START for s in sentences):
        cues.append(_QUESTION_FORM)
    weights = {intent: sum(c.weight for c in cues if c.intent == intent) for intent in PRIORITY}
    best = max(PRIORITY, key=lambda i: (weights[i], -PRIORITY.index(i)))
    total = sum(c.valence for c in cues)
    return Analysis(
        score=round(total / math.sqrt(total * total + 1), 4),
        intent=best if weights[best] > 0 else UNCLEAR,
        cues=tuple(sorted(cues, key=lambda c: (-c.weight, -abs(c.valence), c.phrase))),
    )

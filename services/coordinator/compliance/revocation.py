"""Does a lead's message revoke consent in words other than a bare keyword? Pure,
deterministic and explainable: the answer names the phrase that decided it.

The FCC's 2024 order binds a revocation made "by any reasonable means" ("please stop
texting me", "take me off your list", "no más mensajes"). A keyword inside a longer
message is not enough ("Stop by the open house", "I'll end up buying", "Can you
cancel my showing?", "Don't stop sending listings"): the system we replace opted out
anyone whose text contained "end". So the rules are phrases about *messages to me*,
each with guards, over a normalised text:

1. NFKC, lower case, accents stripped (más -> mas), punctuation to spaces,
   apostrophes dropped (don't -> dont);
2. common misspellings of the words that matter mapped to the word ("unsubscibe",
   "stpo", "txting"), by a table and by one edit for long words;
3. the first guard or phrase that matches, in the order listed, decides.

Every message that does not revoke still stops the automated journey (any reply
does) and reaches a person, so a miss here is read by the agent.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Reading:
    revokes: bool
    # The words that decided, as normalised ("stop texting me"); "" when nothing matched.
    phrase: str = ""
    # Which rule matched: "keyword", "phrase", "spanish" or "guard".
    rule: str = ""

    def explain(self) -> str:
        if not self.phrase:
            return "no revocation phrase"
        return f"{self.rule} {self.phrase!r}: {'revokes consent' if self.revokes else 'not a revocation'}"


KEYWORDS = (
    "stopall",
    "stop all",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "revoke",
    "optout",
    "opt out",
    "stop",
)
# Words that may surround a bare keyword without changing what it means ("Stop please").
_POLITE = frozenset(
    {
        "please", "pls", "plz", "plse", "now", "thanks", "thank", "you", "thx", "ty", "ok", "okay",
        "asap", "already", "just", "sir", "maam", "guys", "immediately", "right", "away", "all",
        "texts", "texting", "messages", "msgs", "por", "favor", "ya", "gracias",
    }
)  # fmt: skip
_SPANISH_WHOLE = frozenset(
    {"basta", "alto", "baja", "no mas", "parar", "detener", "cancelar", "darme de baja"}
)
_ENGLISH_WHOLE = frozenset({"no more", "stop it", "end it", "quit it", "stop this", "enough"})

# Misspellings seen in real opt-out traffic, and plain variants, mapped to one word.
_TYPOS = {
    "stpo": "stop", "sotp": "stop", "stp": "stop", "stopp": "stop", "stoo": "stop", "sto": "stop",
    "stahp": "stop", "stopall": "stopall", "unsub": "unsubscribe", "unsuscribe": "unsubscribe",
    "unsubscibe": "unsubscribe", "unsubcribe": "unsubscribe", "unsubscrib": "unsubscribe",
    "unsubsribe": "unsubscribe", "usubscribe": "unsubscribe", "unsubscribed": "unsubscribe",
    "txt": "text", "txts": "texts", "txting": "texting", "tex": "text", "textin": "texting",
    "txtin": "texting", "textng": "texting", "msg": "message", "msgs": "messages", "mesages": "messages",
    "massages": "messages", "messeges": "messages", "msges": "messages", "sms": "texts",
    "dont": "dont", "don": "dont", "donot": "dont", "doesnt": "dont", "pls": "please", "plz": "please",
    "plez": "please", "pleas": "please", "pleae": "please", "remov": "remove", "rmv": "remove",
    "contat": "contact", "contac": "contact", "cotact": "contact", "emails": "emails", "e-mails": "emails",
    "anymore": "anymore", "any more": "anymore", "numbr": "number", "#": "number", "lst": "list",
    "mensages": "mensajes", "mensaje": "mensajes", "msj": "mensajes", "msjs": "mensajes",
    "textos": "mensajes", "ecribir": "escribir", "escrivir": "escribir", "msging": "messaging",
    "msgng": "messaging", "texing": "texting", "textting": "texting", "remvoe": "remove", "reomve": "remove",
    "romove": "remove", "remvove": "remove",
}  # fmt: skip
# Words long enough that one edit (insert, delete, substitute, swap) cannot make another word we use.
_FUZZY = ("unsubscribe", "messaging", "contacting", "mensajes")

_GUARDS = (
    # "Stop by the open house", "we'll stop in", "stopping by Saturday"
    r"\bstop(?:ping|ped)? (?:by|in|over|at|and see|to see)\b",
    r"\bend(?:ed|s)? up\b",
    r"\bcancel(?:l?ed|ling)? (?:my|our|the|this|that|tomorrow s|todays?) "
    r"(?:showing|appointment|appt|tour|viewing|visit|meeting|call|offer|inspection|open house|order)",
    r"\b(?:dont|do not|never|not|no need to|wont|will not|please dont) (?:ever )?stop\b",
    r"\bstop (?:sign|light|watch)\b",
)

_MEDIA = (
    r"(?:the |these |those |your |ur |all |all the |all these |with the |with these |with your |sending |"
    r"sending me |sending us )?"
    r"(?:texts?|texting|messages?|messaging|emails?|emailing|calls?|calling|contacting|spam|spamming|"
    r"sending|sending me|sending them|reaching out|bothering me|harassing me|marketing|promotions|ads|"
    r"notifications|alerts|listings|communications?|contact)"
)
_PHRASES = (
    rf"\b(?:stop|quit|cease|end|halt) {_MEDIA}\b",
    r"\b(?:stop|quit) (?:contacting|calling|emailing|bugging|bothering|harassing) (?:me|us)\b",
    r"\b(?:remove|take|delete|drop|erase|scratch|get) (?:me|us|my (?:number|name|info|information|email|"
    r"phone(?: number)?|contact(?: info)?)) (?:off|from|out of)\b",
    r"\b(?:remove|delete|erase) (?:me|us|this number|my (?:number|name|info|information|email|"
    r"phone(?: number)?))\b",
    r"\b(?:want|be|get|put me|keep me) off (?:this|your|the|all|of|of your|of this)? ?lists?\b",
    r"\b(?:please|pls) remove$",
    r"\btake (?:me|us|my number|my name) off\b",
    r"\bunsubscribe\b",
    r"\bopt (?:me |us )?out\b",
    r"\boptout\b",
    r"\bcancel (?:my |the |all |these |this )?"
    r"(?:subscription|texts?|messages?|alerts|notifications|emails?)\b",
    r"\b(?:dont|do not|never|please dont|pls dont) (?:ever )?(?:text|message|contact|call|email|bother|"
    r"spam|write|reach out to|send)(?:ing)? (?:me|us|this number|to me|me any)",
    r"\bno more (?:texts?|messages?|emails?|calls?|contact|spam|marketing)\b",
    r"\b(?:i|we) (?:do not|dont|no longer) want (?:any )?(?:more )?(?:your |these |the )?(?:texts?|messages?|"
    r"emails?|calls?|contact)\b",
    r"\bleave me alone\b",
    r"\blose (?:my|this) number\b",
    r"\bwrong (?:number|person)\b",
    r"\bnot (?:the right|the correct) (?:number|person)\b",
    r"\bnever (?:text|contact|message|call|email) (?:me|us|this number)\b",
    r"\bquit (?:it|this)\b",
)
_SPANISH = (
    r"\bno mas (?:mensajes|llamadas|correos|emails?|spam)\b",
    r"\bno me (?:vuelva[ns]? a )?(?:escrib|mand|envi|contact|llam|molest)[a-z]*\b",
    r"\b(?:deja|dejen|deje|dejar) de (?:enviar|mandar|escribir|molestar|contactar|llamar|recibir)[a-z]*\b",
    r"\bno (?:escribir|enviar|mandar|contactar|llamar|molestar)me\b",
    r"\b(?:borr|elimin|quit|sac|saqu)[a-z]* (?:de (?:la|su|tu|sus) lista|mi numero|mi informacion)",
    r"\b(?:dar|darme|dame|denme|deme) de baja\b",
    r"\bcancelar (?:la |mi )?(?:suscripcion|mensajes|subscripcion)\b",
    r"\bya no (?:quiero|deseo) (?:recibir )?(?:mas )?(?:mensajes|correos|llamadas|informacion)\b",
    r"\bno (?:quiero|deseo) (?:recibir )?(?:mas )?(?:mensajes|correos|llamadas)\b",
    r"\bpar(?:a|en|e) de (?:enviar|mandar|escribir)[a-z]*\b",
)


@cache
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def _one_edit(a: str, b: str) -> bool:
    """True when b is a with one character inserted, deleted, substituted or swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _word(token: str) -> str:
    fixed = _TYPOS.get(token)
    if fixed is not None:
        return fixed
    if len(token) >= 6:
        for word in _FUZZY:
            if _one_edit(token, word):
                return word
    return token


def normalize(text: str) -> str:
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).lower())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    plain = plain.replace("'", "").replace("\u2019", "")
    tokens = re.findall(r"[a-z0-9#]+", plain)
    return " ".join(_word(t) for t in tokens)


def _bare_keyword(words: str) -> str:
    """The keyword a message is, once politeness around it is dropped ("stop please",
    "please STOP now", "stop stop"); "" when something else is said too."""
    kept = [w for w in words.split() if w not in _POLITE]
    rest = " ".join(dict.fromkeys(kept))  # "stop stop stop" is "stop"
    if rest in KEYWORDS:
        return rest
    if rest in _SPANISH_WHOLE or rest in _ENGLISH_WHOLE:
        return rest
    return ""


def read(text: str) -> Reading:
    words = normalize(text)
    if not words:
        return Reading(False)
    # A sentence of its own that is a keyword ("I asked you to stop. STOP") decides too.
    for sentence in [words, *(normalize(part) for part in re.split(r"[.!?\n;]+", text))]:
        keyword = _bare_keyword(sentence)
        if keyword:
            return Reading(True, keyword, "keyword")
    # A guarded span ("stop by", "dont stop") is cut out, so no phrase can use its words;
    # the rest of the message is still read ("stop by friday. actually stop texting me").
    guarded = ""
    for pattern in _compiled(_GUARDS):
        found = pattern.search(words)
        if found:
            guarded = guarded or found.group(0)
            words = pattern.sub(" | ", words)
    for rule, patterns in (("phrase", _PHRASES), ("spanish", _SPANISH)):
        for pattern in _compiled(patterns):
            found = pattern.search(words)
            if found:
                return Reading(True, found.group(0), rule)
    return Reading(False, guarded, "guard" if guarded else "")

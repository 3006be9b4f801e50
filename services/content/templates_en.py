"""The built-in English templates, by (channel, purpose). Data, checked at import by template_parts.

Copy never states a number of its own: every figure comes from a variable, so the
numbers guardrail holds by construction. Variant letters are part of the stored
template id: never reuse one for different words.
"""

from __future__ import annotations

from services.content.template_parts import catalogue, opt, req, template

_MARKET_SMS = opt(
    "Homes in {{ market_area }} are selling in about {{ market_days }} days "
    "(median {{ market_price }}, {{ market_as_of }})."
)
_MARKET_EMAIL = opt(
    "A quick market note for {{ market_area }}: the median sale price was {{ market_price }}, homes "
    "sold in about {{ market_days }} days, and {{ market_inventory }} were for sale ({{ market_as_of }})."
)
_SIGN_OFF = req("Best regards,\n{{ agent }}\n{{ brand }}", "Best regards,\nThe {{ brand }} team")

SMS_FIRST_TOUCH = (
    template(
        "a",
        (),
        req(
            "Hi {{ greeting_name }}, this is {{ agent }} with {{ brand }}.",
            "Hi {{ greeting_name }}, this is {{ brand }}.",
        ),
        opt(
            "Thanks for your {{ source }} inquiry about homes in {{ city }}.",
            "Thanks for your inquiry about homes in {{ city }}.",
            "Thanks for your {{ source }} inquiry.",
        ),
        req("When is a good time for a quick call about what you're looking for?"),
        opt("You can reach me directly at {{ agent_phone }}."),
    ),
    template(
        "b",
        (),
        req(
            "Hello {{ greeting_name }}! {{ agent }} here from {{ brand }}.",
            "Hello {{ greeting_name }}! This is {{ brand }}.",
        ),
        opt(
            "I saw you're looking at homes in {{ city }} and wanted to reach out personally.",
            "I got your {{ source }} request and wanted to reach out personally.",
        ),
        req("What are the must-haves on your list: bedrooms, price range, commute?"),
        opt("Text or call me at {{ agent_phone }}."),
    ),
)

SMS_FOLLOW_UP = (
    template(
        "a",
        (),
        req(
            "Hi {{ greeting_name }}, {{ agent }} with {{ brand }} following up.",
            "Hi {{ greeting_name }}, {{ brand }} following up.",
        ),
        req("Are you still looking at homes in {{ city }}?", "Are you still thinking about a move?"),
        opt("I can send listings that match your criteria or set up a showing."),
    ),
    template(
        "b",
        (),
        req(
            "Hi {{ greeting_name }}, it's {{ agent }} from {{ brand }}.",
            "Hi {{ greeting_name }}, it's {{ brand }}.",
        ),
        req("Checking in: has anything changed in your home search?"),
        _MARKET_SMS,
        opt(
            "Happy to line up showings in {{ city }} whenever suits you.",
            "Happy to line up showings whenever suits you.",
        ),
    ),
    template(
        "c",
        (),
        req(
            "{{ greeting_name }}, {{ agent }} at {{ brand }} again.",
            "{{ greeting_name }}, {{ brand }} again.",
        ),
        _MARKET_SMS,
        req(
            "Would it help if I sent a short list of homes in {{ city }} that match what you told us?",
            "Would it help if I sent a short list of homes that match what you told us?",
        ),
    ),
)

SMS_AGENT_NOTIFICATION = (
    template(
        "a",
        (),
        req(
            "{{ brand }}: new lead {{ lead_full_name }} assigned to you.",
            "{{ brand }}: a new lead is assigned to you.",
        ),
        opt("Score {{ score }}/100."),
        opt("Source: {{ source }}."),
        opt("Area: {{ city }}."),
        req("Reach out as soon as you can."),
    ),
)

EMAIL_FIRST_TOUCH = (
    template(
        "a",
        ("{{ name }}, your home search with {{ brand }}", "Your home search with {{ brand }}"),
        req("Hi {{ greeting_name }},"),
        req(
            "I'm {{ agent }} with {{ brand }}. Thank you for your {{ source }} inquiry about homes in "
            "{{ city }}.",
            "I'm {{ agent }} with {{ brand }}. Thank you for your inquiry about homes in {{ city }}.",
            "I'm {{ agent }} with {{ brand }}. Thank you for your {{ source }} inquiry.",
            "I'm {{ agent }} with {{ brand }}. Thank you for getting in touch.",
            "Thank you for contacting {{ brand }} about homes in {{ city }}.",
            "Thank you for contacting {{ brand }}.",
        ),
        req(
            "I'd love to hear what you're looking for: the number of bedrooms, your price range, and "
            "the commute or amenities that matter to you. Just reply to this email or call me at "
            "{{ agent_phone }}.",
            "I'd love to hear what you're looking for: the number of bedrooms, your price range, and "
            "the commute or amenities that matter to you. Just reply to this email.",
        ),
        _SIGN_OFF,
        joiner="\n\n",
    ),
    template(
        "b",
        ("Thanks for reaching out, {{ name }}", "Thanks for reaching out to {{ brand }}"),
        req("Hello {{ greeting_name }},"),
        req(
            "Thanks for reaching out about homes in {{ city }}. I'm {{ agent }}, and I'll be your contact "
            "at {{ brand }}.",
            "Thanks for reaching out. I'm {{ agent }}, and I'll be your contact at {{ brand }}.",
            "Thanks for reaching out to {{ brand }} about homes in {{ city }}.",
            "Thanks for reaching out to {{ brand }}.",
        ),
        req(
            "Could you tell me a little about the home you have in mind and your timeline? I can then "
            "send listings that match. You can also reach me at {{ agent_phone }}.",
            "Could you tell me a little about the home you have in mind and your timeline? I can then "
            "send listings that match.",
        ),
        req("Talk soon,\n{{ agent }}\n{{ brand }}", "Talk soon,\nThe {{ brand }} team"),
        joiner="\n\n",
    ),
)

EMAIL_FOLLOW_UP = (
    template(
        "a",
        ("{{ name }}, still looking for your next home?", "Still looking for your next home?"),
        req("Hi {{ greeting_name }},"),
        req(
            "{{ agent }} from {{ brand }} here, following up on your search in {{ city }}.",
            "{{ agent }} from {{ brand }} here, following up on your home search.",
            "Following up from {{ brand }} on your search in {{ city }}.",
            "Following up from {{ brand }} on your home search.",
        ),
        req(
            "If your criteria have changed (bedrooms, budget, timing), reply and I'll update the "
            "listings I send you. I'm also happy to set up showings."
        ),
        _SIGN_OFF,
        joiner="\n\n",
    ),
    template(
        "b",
        ("{{ name }}, a quick check-in from {{ brand }}", "A quick check-in from {{ brand }}"),
        req("Hello {{ greeting_name }},"),
        req(
            "It's {{ agent }} at {{ brand }}, checking in on your plans in {{ city }}.",
            "It's {{ agent }} at {{ brand }}, checking in on your plans.",
            "{{ brand }} here, checking in on your plans in {{ city }}.",
            "{{ brand }} here, checking in on your plans.",
        ),
        _MARKET_EMAIL,
        req(
            "Is there a neighborhood, a price range or a commute you'd like me to focus on? Reply with "
            "whatever is top of mind and I'll take it from there."
        ),
        _SIGN_OFF,
        joiner="\n\n",
    ),
)

# Short, personal, low-pressure; acknowledges the gap (domain.md §6). Also the recovery message.
SMS_RE_ENGAGEMENT = (
    template(
        "a",
        (),
        req(
            "Hi {{ greeting_name }}, it's {{ agent }} with {{ brand }}.",
            "Hi {{ greeting_name }}, it's {{ brand }}.",
        ),
        req(
            "It's been a while! Are you still thinking about a move in {{ city }} this year?",
            "It's been a while! Are you still thinking about a move this year?",
        ),
        opt("{{ value_proposition }}"),
        opt("No pressure either way; just reply and let me know."),
    ),
    template(
        "b",
        (),
        req(
            "Hi {{ greeting_name }}, {{ agent }} from {{ brand }} here.",
            "Hi {{ greeting_name }}, {{ brand }} here.",
        ),
        req(
            "We last spoke a while ago about homes in {{ city }}. Is a move still on your mind?",
            "We last spoke a while ago. Is a move still on your mind?",
        ),
        _MARKET_SMS,
        opt("{{ value_proposition }}"),
        opt("Happy to help whenever the time is right."),
    ),
)

EMAIL_RE_ENGAGEMENT = (
    template(
        "a",
        ("{{ name }}, still thinking about a move?", "Still thinking about a move?"),
        req("Hi {{ greeting_name }},"),
        req(
            "It's {{ agent }} with {{ brand }}. It has been a while since we last talked about homes in "
            "{{ city }}.",
            "It's {{ agent }} with {{ brand }}. It has been a while since we last talked.",
            "It has been a while since {{ brand }} last talked with you about homes in {{ city }}.",
            "It has been a while since {{ brand }} last talked with you.",
        ),
        _MARKET_EMAIL,
        opt("A reminder of how we work: {{ value_proposition }}"),
        req(
            "Are you still thinking about a move this year? If so, reply with what matters most to you "
            "now and I'll send a few homes that fit. If not, no problem at all."
        ),
        _SIGN_OFF,
        joiner="\n\n",
    ),
    template(
        "b",
        ("{{ name }}, is a move still on the cards?", "Is a move still on the cards?"),
        req("Hello {{ greeting_name }},"),
        req(
            "{{ agent }} at {{ brand }} here. We haven't spoken in a while, so I wanted to check in.",
            "{{ brand }} here. We haven't spoken in a while, so we wanted to check in.",
        ),
        opt("{{ value_proposition }}"),
        _MARKET_EMAIL,
        req(
            "If your plans have changed, that's completely fine. If you're still looking, reply with "
            "what you'd like to see and I'll pick out a few homes."
        ),
        _SIGN_OFF,
        joiner="\n\n",
    ),
)

EMAIL_AGENT_NOTIFICATION = (
    template(
        "a",
        ("New lead: {{ lead_full_name }}", "New lead assigned to you"),
        req("A new lead has been assigned to you by {{ brand }}."),
        req("Lead: {{ lead_full_name }}", "Lead: (name not given)"),
        opt("Score: {{ score }}/100"),
        opt("Source: {{ source }}"),
        opt("Area: {{ city }}"),
        req("Please reach out as soon as you can: the first contact matters most."),
        joiner="\n",
    ),
)

# Behaviour-timed: the lead is looking right now. The listing is named when known; how
# often they looked is for the agent (trigger_description), never said to the lead.
SMS_TRIGGER = (
    template(
        "a",
        (),
        req(
            "Hi {{ greeting_name }}, {{ agent }} with {{ brand }}.",
            "Hi {{ greeting_name }}, this is {{ brand }}.",
        ),
        req(
            "I noticed you've been looking at {{ listing }}. Want to see it in person this week?",
            "I noticed you've been looking at homes in {{ city }} lately. Anything catching your eye?",
            "I noticed you've been browsing homes lately. Anything catching your eye?",
        ),
        opt("I can also send similar homes as soon as they list."),
        opt("Text or call me at {{ agent_phone }}."),
    ),
    template(
        "b",
        (),
        req(
            "{{ greeting_name }}, it's {{ agent }} at {{ brand }}.", "{{ greeting_name }}, it's {{ brand }}."
        ),
        req(
            "Is {{ listing }} one you'd like to tour? I can set up a showing at a time that suits you.",
            "Looks like homes in {{ city }} have your attention. Want me to set up a few showings?",
            "Looks like a few homes have your attention. Want me to set up some showings?",
        ),
        opt("Or reach me at {{ agent_phone }}."),
    ),
)

EMAIL_TRIGGER = (
    template(
        "a",
        ("{{ name }}, about {{ listing }}", "{{ name }}, homes you may like", "Homes you may like"),
        req("Hi {{ greeting_name }},"),
        req(
            "I noticed you've been looking at {{ listing }}. If you'd like to see it in person, reply "
            "with a day and time that suits you and I'll arrange a showing.",
            "I noticed you've been looking at homes in {{ city }} lately. If something caught your eye, "
            "reply and I'll arrange a showing or send similar homes.",
            "I noticed you've been browsing homes lately. If something caught your eye, reply and "
            "I'll arrange a showing or send similar homes.",
        ),
        opt("You can also reach me at {{ agent_phone }}."),
        _SIGN_OFF,
        joiner="\n\n",
    ),
    template(
        "b",
        ("Want to see {{ listing }}?", "Want to see a few homes in person?"),
        req("Hello {{ greeting_name }},"),
        req(
            "{{ listing }} seems to have caught your eye. I'd be glad to show it to you, along with "
            "similar homes nearby.",
            "A few homes in {{ city }} seem to have caught your eye. I'd be glad to show you the ones "
            "you like best.",
            "A few homes seem to have caught your eye. I'd be glad to show you the ones you like best.",
        ),
        req("Just reply with a time that works and I'll set it up."),
        _SIGN_OFF,
        joiner="\n\n",
    ),
)

# A template cannot answer what the lead asked: it acknowledges and hands the answer to a person.
SMS_REPLY_TO_INBOUND = (
    template(
        "a",
        (),
        req("Thanks for your message, {{ greeting_name }}!", "Thanks for your message!"),
        req(
            "{{ agent }} at {{ brand }} will get back to you personally shortly.",
            "Someone at {{ brand }} will get back to you personally shortly.",
        ),
        opt("For anything urgent, call {{ agent_phone }}."),
    ),
    template(
        "b",
        (),
        req("Got it, {{ greeting_name }}, thank you.", "Got it, thank you."),
        req(
            "This is {{ brand }}: {{ agent }} has your message and will reply soon.",
            "This is {{ brand }}: we have your message and will reply soon.",
        ),
        opt("You can also reach {{ agent }} at {{ agent_phone }}."),
    ),
)

EMAIL_REPLY_TO_INBOUND = (
    template(
        "a",
        ("Re: your message to {{ brand }}",),
        req("Hi {{ greeting_name }},"),
        req(
            "Thank you for your message. {{ agent }} at {{ brand }} has it and will reply to you personally.",
            "Thank you for your message. The {{ brand }} team has it and will reply to you personally.",
        ),
        opt("If it's urgent, you can call {{ agent_phone }}."),
        _SIGN_OFF,
        joiner="\n\n",
    ),
    template(
        "b",
        ("Thanks, {{ name }}: we have your message", "Thanks: we have your message"),
        req("Hello {{ greeting_name }},"),
        req(
            "Thanks for writing back. {{ agent }} will look into it and get back to you soon.",
            "Thanks for writing back. We'll look into it and get back to you soon.",
        ),
        req("Talk soon,\n{{ agent }}\n{{ brand }}", "Talk soon,\nThe {{ brand }} team"),
        joiner="\n\n",
    ),
)

SMS_APPOINTMENT_REMINDER = (
    template(
        "a",
        (),
        req("Hi {{ greeting_name }}, {{ brand }} here.", "Hi, {{ brand }} here."),
        req(
            "A reminder of your appointment with {{ agent }}: {{ appointment }}.",
            "A reminder of your appointment: {{ appointment }}.",
            "A reminder of your upcoming appointment with {{ agent }}.",
            "A reminder of your upcoming appointment with us.",
        ),
        req("Need to change it? Just reply."),
        opt("Or call {{ agent_phone }}."),
    ),
    template(
        "b",
        (),
        req("{{ greeting_name }}, this is {{ brand }}.", "This is {{ brand }}."),
        req(
            "Looking forward to seeing you: {{ appointment }}.",
            "Looking forward to seeing you at your upcoming appointment.",
        ),
        req("Reply if you need to reschedule."),
        opt("{{ agent }}: {{ agent_phone }}."),
    ),
)

EMAIL_APPOINTMENT_REMINDER = (
    template(
        "a",
        ("Reminder: your appointment with {{ brand }}",),
        req("Hi {{ greeting_name }},"),
        req(
            "This is a reminder of your appointment with {{ agent }}: {{ appointment }}.",
            "This is a reminder of your appointment with {{ brand }}: {{ appointment }}.",
            "This is a reminder of your upcoming appointment with {{ agent }}.",
            "This is a reminder of your upcoming appointment with {{ brand }}.",
        ),
        req("If you need to change the time, just reply to this email."),
        opt("You can also call {{ agent_phone }}."),
        _SIGN_OFF,
        joiner="\n\n",
    ),
    template(
        "b",
        ("See you soon, {{ name }}", "See you soon"),
        req("Hello {{ greeting_name }},"),
        req(
            "We're looking forward to seeing you: {{ appointment }}.",
            "We're looking forward to seeing you at your upcoming appointment.",
        ),
        req("Something came up? Reply and we'll find another time."),
        _SIGN_OFF,
        joiner="\n\n",
    ),
)

TEMPLATES = catalogue(globals())

"""Step keys scoped to the journey they belong to.

Communications, compliance records and agent notifications are unique per (lead, step_key),
and the content and routing request ids are derived from the same keys: that is what makes
every step exactly-once. A lead may have several journeys over time (a recovery campaign
enrols a lead whose journey ended), so a later journey's keys carry its generation:
"j2:first_touch", "j2:step:1". A lead's first journey keeps the bare keys, so the rows of
journeys that started before generations existed stay as they are.
"""

from __future__ import annotations

import re

_SCOPED = re.compile(r"^j(\d+):")


def scoped(generation: int, key: str) -> str:
    return key if generation <= 1 else f"j{generation}:{key}"


def unscoped(key: str) -> tuple[int, str]:
    """(generation, the key within its journey); 1 for a bare key."""
    found = _SCOPED.match(key)
    if found is None:
        return 1, key
    return int(found.group(1)), key[found.end() :]

"""How many SMS segments a text costs (3GPP TS 23.038 / 23.040). Pure: no I/O.

A text made only of the GSM-7 default alphabet is sent 7 bits a character; the
extension table's characters (€, [, ], {, }, ^, ~, |, \\, form feed) take two
septets (an escape and the character). One character outside both forces the whole
message into UCS-2, 16 bits a code unit, where an emoji is two units. A single
segment holds 160 septets or 70 units; concatenated ones lose 7 septets / 3 units
to the header (153 / 67), and carriers never split an escape pair or a surrogate
pair across segments, so packing is done character by character.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"
_SINGLE = {GSM7: 160, UCS2: 70}
_MULTI = {GSM7: 153, UCS2: 67}


@dataclass(frozen=True)
class Count:
    encoding: str  # GSM7 or UCS2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def _widths(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENDED else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count(text: str) -> Count:
    encoding = GSM7 if is_gsm7(text) else UCS2
    widths = _widths(text, encoding)
    units = sum(widths)
    if units == 0:
        return Count(encoding, 0, 0)
    if units <= _SINGLE[encoding]:
        return Count(encoding, units, 1)
    size, segments, used = _MULTI[encoding], 1, 0
    for width in widths:
        if used + width > size:
            segments, used = segments + 1, 0
        used += width
    return Count(encoding, units, segments)


def fold_to_gsm7(text: str) -> str:
    """The text with accents the GSM-7 alphabet lacks dropped (á -> a, ó -> o), keeping
    those it has (é, ñ, ü); any character still outside it is removed. Used only when
    the accented text would not fit its segment cap."""
    out: list[str] = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENDED:
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append("".join(c for c in base if c in GSM7_BASIC or c in GSM7_EXTENDED))
    return "".join(out)

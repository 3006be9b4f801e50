"""AIP-134 update masks, as UpsertLead and UpdateLocation read them. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.errors import FieldViolation, InvalidArgument


@dataclass(frozen=True)
class MaskRules:
    resource: str  # the message the paths name, e.g. "Lead"
    writable: frozenset[str]
    read_only: frozenset[str]
    example: str  # field names a caller might write, e.g. "phone or tags"

    def _invalid(self, message: str) -> InvalidArgument:
        return InvalidArgument(
            message,
            reason="INVALID_UPDATE_MASK",
            violations=[
                FieldViolation(
                    "update_mask", f'"*" alone, or {self.resource} field names such as {self.example}'
                )
            ],
        )

    def paths(self, mask_paths: Iterable[str], present: frozenset[str]) -> frozenset[str]:
        """No mask = the `present` (populated) fields; "*" = every writable field; else exactly
        those, with or without the resource's own prefix ("lead.phone")."""
        paths = [p.strip() for p in mask_paths if p.strip()]
        if not paths:
            return present
        if "*" in paths:
            if len(paths) > 1:
                raise self._invalid('update_mask "*" replaces every field and cannot be combined with others')
            return self.writable
        prefix = f"{self.resource.lower()}."
        result = set()
        for path in paths:
            name = path.removeprefix(prefix)
            if name not in self.writable:
                what = "is not writable" if name in self.read_only else f"is not a {self.resource} field"
                fields = ", ".join(sorted(self.writable))
                raise self._invalid(f"update_mask path {path[:60]!r} {what}; writable fields: {fields}")
            result.add(name)
        return frozenset(result)

"""Alert ids as an analyst types them: the whole id, or any prefix that names one alert.

Ids are long (``mirim/replica-square/crowd/20250712T021530Z``), so ``monitor alerts ack`` and ``dismiss``
accept ``mirim/replica-square/crowd/2025-07`` style prefixes as long as exactly one alert starts with it.
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.errors import AlertNotFoundError

#: Candidates named in the message of an ambiguous prefix before "and N more".
SHOWN_CANDIDATES = 8


class AmbiguousAlertError(AlertNotFoundError):
    """More than one alert id starts with the prefix; ``candidates`` lists them, sorted."""

    def __init__(self, prefix: str, candidates: tuple[str, ...]) -> None:
        self.prefix = prefix
        self.candidates = candidates
        shown = ", ".join(candidates[:SHOWN_CANDIDATES])
        more = f" and {len(candidates) - SHOWN_CANDIDATES} more" if len(candidates) > SHOWN_CANDIDATES else ""
        super().__init__(f"{prefix!r} matches {len(candidates)} alerts: {shown}{more}; give more of the id")


def resolve_alert_id(prefix: str, ids: Iterable[str], *, where: str = "the archive") -> str:
    """The one id equal to ``prefix``, else the one id starting with it.

    Raises :class:`AlertNotFoundError` when none does and :class:`AmbiguousAlertError` (a subclass) when
    several do. An empty prefix names nothing (it would match every alert).
    """
    known = sorted(set(ids))
    if prefix in known:
        return prefix
    matches = tuple(i for i in known if prefix and i.startswith(prefix))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise AmbiguousAlertError(prefix, matches)
    raise AlertNotFoundError(f"no alert {prefix!r} in {where} (see `monitor alerts`)")

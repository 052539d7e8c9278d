"""Which column holds the text (or the label): the one named by the user, else the first
conventional name present (``choices.TEXT_NAMES`` / ``LABEL_NAMES``, exact, then ignoring
case). Used by ``train``, ``score`` and ``evaluate`` alike; what the column must contain is
checked by the stage that reads it.
"""

from __future__ import annotations

import logging

from sentiscore.errors import InputDataError

log = logging.getLogger(__name__)


def pick_column(
    names: list[str],
    wanted: str | None,
    candidates: tuple,
    what: str,
    option: str,
    error=InputDataError,
    where: str = "",
    suggest: list[str] | None = None,
) -> str:
    """The column to use, or ``error`` naming the columns found and the option to pass
    (with ``suggest``, the likeliest columns, when none is found)."""
    found = f"columns {list(names)}" + (f" in '{where}'" if where else "")
    if wanted:
        if wanted not in names:
            raise error(
                f"A {what} column named '{wanted}'", found, f"pass {option} with one of those"
            )
        return wanted
    lowered = {n.lower(): n for n in reversed(names)}
    for c in candidates:
        hit = c if c in names else lowered.get(c)
        if hit is not None:
            log.info("%s column: '%s' (pass %s to choose another)", what, hit, option)
            return hit
    fix = f"pass {option} NAME" + (f", e.g. one of {suggest}" if suggest else "")
    raise error(f"A {what} column named one of {list(candidates)}", found, fix)

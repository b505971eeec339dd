"""'Did you mean' for unknown names (metrics, models, studies, datasets): the closest valid names first, then
the valid names (a short list when there is a suggestion and many names)."""

from __future__ import annotations

import difflib
from typing import Iterable

SHORT_LIST = 8  # valid names shown after a suggestion; all of them when there is none


def did_you_mean(name: str, valid: Iterable[str]) -> list[str]:
    """Valid names close to ``name`` (difflib ratio >= 0.7, at most 3, within 0.1 of the closest), closest first;
    a name equal but for case comes first; ``[]`` when none is close."""
    valid = list(valid)
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.7)
    if close:
        best = difflib.SequenceMatcher(None, name, close[0]).ratio()
        close = [c for c in close if difflib.SequenceMatcher(None, name, c).ratio() >= best - 0.1]
    same = [v for v in valid if v.lower() == name.lower() and v not in close]
    return same + close


def unknown(what: str, names: Iterable[str], valid: Iterable[str], plural: str | None = None) -> str:
    """``unknown metric 'ssimy' (did you mean 'ssim_y'?); valid metrics: ...`` for one or more unknown names."""
    names, valid = list(names), list(valid)
    plural = plural or f"{what}s"
    parts = []
    for name in names:
        close = did_you_mean(str(name), valid)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        parts.append(f"{name!r}{hint}")
    head = f"unknown {what if len(names) == 1 else plural} {', '.join(parts)}"
    suggested = any(did_you_mean(str(n), valid) for n in names)
    if suggested and len(valid) > SHORT_LIST:
        listing = f"{', '.join(valid[:SHORT_LIST])}, ... ({len(valid)} in all)"
    else:
        listing = ", ".join(valid) or "none"
    return f"{head}; valid {plural}: {listing}"

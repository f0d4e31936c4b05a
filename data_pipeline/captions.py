"""Split a caption into an event description and an action description (Yume1.5 §4.1, Fig. 3b).

Action sentences of any of the three wordings, and the speed fields, are recognised with
``yumebench.actions`` and cut out; every other word stays in the event text, in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yumebench.actions import (
    SPEED_REGEX,
    Action,
    ActionError,
    SpeedFields,
    action_from_sentences,
    find_action_sentences,
    parse_speed_fields,
)


@dataclass(frozen=True)
class CaptionSplit:
    event_text: str
    stated_action: Action | None  # the action the caption states, if any
    stated_text: str  # the removed action sentences as written, joined by one space
    wording: str | None  # wording of the first action sentence
    speeds: SpeedFields | None
    conflicting: bool = False  # the caption states two states of one control


def split_caption(caption: str) -> CaptionSplit:
    found = find_action_sentences(caption)
    spans = [(m.start, m.end) for m in found]
    speed_match = SPEED_REGEX.search(caption)
    if speed_match:
        spans.append(speed_match.span())
    spans.sort()
    pieces, removed, pos = [], [], 0
    for start, end in spans:
        if start < pos:
            continue
        pieces.append(caption[pos:start])
        removed.append(caption[start:end])
        pos = end
    pieces.append(caption[pos:])
    event = _join(pieces)
    stated_text = " ".join(r.strip() for r in removed if not SPEED_REGEX.fullmatch(r.strip()))
    stated: Action | None = None
    conflicting = False
    if found:
        try:
            stated = action_from_sentences(found, caption)
        except ActionError:
            conflicting = True
    return CaptionSplit(
        event_text=event,
        stated_action=stated,
        stated_text=stated_text,
        wording=found[0].wording if found else None,
        speeds=parse_speed_fields(caption),
        conflicting=conflicting,
    )


_SPACE = re.compile(r"[ \t]+")


def _join(pieces: list[str]) -> str:
    # Sentences in the YUME code are glued without spaces ("...(FPV).Person moves..."), so a cut can
    # leave two words touching; put one space at each cut and collapse runs of spaces and tabs.
    text = " ".join(p.strip(" \t") for p in pieces if p.strip())
    return _SPACE.sub(" ", text).strip()

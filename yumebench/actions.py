"""The keyboard/mouse action vocabulary of YUME and Yume1.5: the single home of these facts.

Nine key states times nine mouse states give 81 actions. Each action has three wordings that exist in
the wild (``../shared/reference/yume_repo.md`` §1):

- ``yume``: the YUME code (``fastvideo/dataset/t2v_datasets.py``): "Person moves forward (W)." /
  "Camera turns right (→).", sentences concatenated without spaces.
- ``paper``: Yume1.5 paper Eq. 1-2: "Camera moves forward (W)." / "Camera turns right (→).".
- ``5b``: the Yume-5B webapp / ``caption_re.txt``: "The camera pushes forward (W)." /
  "The camera pans to the right (→).".

Speed fields ("Actual distance moved: ...") follow the YUME code's format.

Example:
    >>> a = Action.parse("W+A,→")
    >>> action_text(a, "5b")
    'The camera pushes forward and moves to the left (W+A). The camera pans to the right (→).'
    >>> parse_action_text("Person moves forward (W).Camera turns left (←).")
    Action(keys='W', mouse='←')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

KEYS: tuple[str, ...] = ("W", "A", "S", "D", "W+A", "W+D", "S+A", "S+D", "None")
MOUSE: tuple[str, ...] = ("→", "←", "↑", "↓", "↑→", "↑←", "↓→", "↓←", "·")
IDLE_KEYS = "None"
IDLE_MOUSE = "·"

Wording = Literal["yume", "paper", "5b"]
WORDINGS: tuple[str, ...] = ("yume", "paper", "5b")

# Components: forward (+1 W, -1 S), strafe (+1 D, -1 A), yaw (+1 →, -1 ←), pitch (+1 ↑, -1 ↓).
_KEY_COMPONENTS: dict[str, tuple[int, int]] = {
    "W": (1, 0),
    "S": (-1, 0),
    "A": (0, -1),
    "D": (0, 1),
    "W+A": (1, -1),
    "W+D": (1, 1),
    "S+A": (-1, -1),
    "S+D": (-1, 1),
    "None": (0, 0),
}
_MOUSE_COMPONENTS: dict[str, tuple[int, int]] = {
    "→": (1, 0),
    "←": (-1, 0),
    "↑": (0, 1),
    "↓": (0, -1),
    "↑→": (1, 1),
    "↑←": (-1, 1),
    "↓→": (1, -1),
    "↓←": (-1, -1),
    "·": (0, 0),
}

_KEY_ALIASES = {"none": "None", "·": "None", ".": "None", "-": "None", "": "None", "idle": "None"}
_MOUSE_ALIASES = {
    "right": "→",
    "left": "←",
    "up": "↑",
    "down": "↓",
    "up-right": "↑→",
    "up+right": "↑→",
    "upright": "↑→",
    "up-left": "↑←",
    "up+left": "↑←",
    "upleft": "↑←",
    "down-right": "↓→",
    "down+right": "↓→",
    "downright": "↓→",
    "down-left": "↓←",
    "down+left": "↓←",
    "downleft": "↓←",
    "none": "·",
    "None": "·",
    ".": "·",
    "-": "·",
    "": "·",
    "idle": "·",
    "still": "·",
    "->": "→",
    "<-": "←",
    "^": "↑",
    "v": "↓",
}

# Sentence tables. Source: yume_repo.md §1 (YUME code, Yume1.5 paper Eq. 1-2, webapp vocab1/vocab2).
_YUME_KEYS = {
    "W": "Person moves forward (W).",
    "A": "Person moves left (A).",
    "S": "Person moves backward (S).",
    "D": "Person moves right (D).",
    "W+A": "Person moves forward and left (W+A).",
    "W+D": "Person moves forward and right (W+D).",
    "S+D": "Person moves backward and right (S+D).",
    "S+A": "Person moves backward and left (S+A).",
    "None": "Person stands still (·).",
}
_YUME_MOUSE = {
    "→": "Camera turns right (→).",
    "←": "Camera turns left (←).",
    "↑": "Camera tilts up (↑).",
    "↓": "Camera tilts down (↓).",
    "↑→": "Camera tilts up and turns right (↑→).",
    "↑←": "Camera tilts up and turns left (↑←).",
    "↓→": "Camera tilts down and turns right (↓→).",
    "↓←": "Camera tilts down and turns left (↓←).",
    "·": "Camera remains still (·).",
}
_PAPER_KEYS = {k: v.replace("Person moves", "Camera moves") for k, v in _YUME_KEYS.items()}
_PAPER_KEYS["None"] = "Camera stands still (·)."
_5B_KEYS = {
    "W": "The camera pushes forward (W).",
    "A": "The camera moves to the left (A).",
    "S": "The camera pulls back (S).",
    "D": "The camera moves to the right (D).",
    "W+A": "The camera pushes forward and moves to the left (W+A).",
    "W+D": "The camera pushes forward and moves to the right (W+D).",
    "S+D": "The camera pulls back and moves to the right (S+D).",
    "S+A": "The camera pulls back and moves to the left (S+A).",
    "None": "The camera's movement direction remains stationary (·).",
}
_5B_MOUSE = {
    "→": "The camera pans to the right (→).",
    "←": "The camera pans to the left (←).",
    "↑": "The camera tilts up (↑).",
    "↓": "The camera tilts down (↓).",
    "↑→": "The camera tilts up and pans to the right (↑→).",
    "↑←": "The camera tilts up and pans to the left (↑←).",
    "↓→": "The camera tilts down and pans to the right (↓→).",
    "↓←": "The camera tilts down and pans to the left (↓←).",
    "·": "The rotation direction of the camera remains stationary (·).",
}

KEY_SENTENCES: dict[str, dict[str, str]] = {"yume": _YUME_KEYS, "paper": _PAPER_KEYS, "5b": _5B_KEYS}
MOUSE_SENTENCES: dict[str, dict[str, str]] = {"yume": _YUME_MOUSE, "paper": dict(_YUME_MOUSE), "5b": _5B_MOUSE}
# The YUME code concatenates sentences with no space; the paper's Fig. 3 and the 5B webapp use one.
SENTENCE_SEPARATOR: dict[str, str] = {"yume": "", "paper": " ", "5b": " "}


class ActionError(ValueError):
    """An action symbol or action text that is not in the vocabulary."""


@dataclass(frozen=True, order=True)
class Action:
    """One keyboard state and one mouse state, e.g. ``Action("W+A", "→")``."""

    keys: str = IDLE_KEYS
    mouse: str = IDLE_MOUSE

    def __post_init__(self) -> None:
        if self.keys not in KEYS:
            raise ActionError(f"unknown keys {self.keys!r}; expected one of {' '.join(KEYS)}")
        if self.mouse not in MOUSE:
            raise ActionError(f"unknown mouse {self.mouse!r}; expected one of {' '.join(MOUSE)}")

    @classmethod
    def parse(cls, text: str) -> Action:
        """Parse ``"KEYS,MOUSE"`` (e.g. ``"W+A,→"``, ``"s+d,up-left"``, ``"None,·"``) or keys alone."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) > 2:
            raise ActionError(f"action {text!r}: expected 'KEYS,MOUSE', e.g. 'W+A,→'")
        return cls(parse_keys(parts[0]), parse_mouse(parts[1] if len(parts) == 2 else ""))

    @classmethod
    def from_components(cls, forward: int, strafe: int, yaw: int, pitch: int) -> Action:
        """Build from signs: forward (+W/-S), strafe (+D/-A), yaw (+→/-←), pitch (+↑/-↓)."""
        key = {v: k for k, v in _KEY_COMPONENTS.items()}[(_sign(forward), _sign(strafe))]
        mouse = {v: k for k, v in _MOUSE_COMPONENTS.items()}[(_sign(yaw), _sign(pitch))]
        return cls(key, mouse)

    @property
    def components(self) -> tuple[int, int, int, int]:
        """(forward, strafe, yaw, pitch), each in {-1, 0, 1}."""
        return _KEY_COMPONENTS[self.keys] + _MOUSE_COMPONENTS[self.mouse]

    @property
    def symbol(self) -> str:
        return f"{self.keys},{self.mouse}"

    def __str__(self) -> str:
        return self.symbol


COMPONENT_NAMES: tuple[str, ...] = ("forward", "strafe", "yaw", "pitch")
ALL_ACTIONS: tuple[Action, ...] = tuple(Action(k, m) for k in KEYS for m in MOUSE)


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def parse_keys(text: str) -> str:
    """Normalise a key symbol: ``"w+a"``, ``"A+W"`` and ``"W+A"`` all give ``"W+A"``."""
    raw = text.strip()
    if raw in KEYS:
        return raw
    if raw.lower() in _KEY_ALIASES or raw in _KEY_ALIASES:
        return _KEY_ALIASES.get(raw.lower(), _KEY_ALIASES.get(raw, "None"))
    letters = sorted(p.strip().upper() for p in raw.split("+"))
    # W/S come first in the published labels ("W+A", "S+D").
    letters.sort(key=lambda c: c not in ("W", "S"))
    joined = "+".join(letters)
    if joined not in KEYS:
        raise ActionError(f"unknown keys {text!r}; expected one of {' '.join(KEYS)}")
    return joined


def parse_mouse(text: str) -> str:
    """Normalise a mouse symbol: arrows, ``·``, or words such as ``"up-right"``, ``"left"``, ``"none"``."""
    raw = text.strip()
    if raw in MOUSE:
        return raw
    if raw == "→↑" or raw == "←↑" or raw == "→↓" or raw == "←↓":
        return raw[1] + raw[0]
    alias = _MOUSE_ALIASES.get(raw, _MOUSE_ALIASES.get(raw.lower()))
    if alias is None:
        raise ActionError(f"unknown mouse {text!r}; expected one of {' '.join(MOUSE)} or a word like 'up-right'")
    return alias


def parse_action_sequence(text: str) -> list[Action]:
    """Parse ``"W+A,→;W,·;S,↑"`` into a list of actions (one per generated block or segment)."""
    items = [s for s in (p.strip() for p in text.split(";")) if s]
    if not items:
        raise ActionError("empty action sequence; expected e.g. 'W+A,→;W,·'")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(Action.parse(item))
        except ActionError as e:
            raise ActionError(f"action {i + 1} of {text!r}: {e}") from None
    return out


# ----------------------------------------------------------------------------------------------------
# Text: rendering and recognition


def key_sentence(keys: str, wording: Wording = "yume") -> str:
    return KEY_SENTENCES[_check_wording(wording)][keys]


def mouse_sentence(mouse: str, wording: Wording = "yume") -> str:
    return MOUSE_SENTENCES[_check_wording(wording)][mouse]


def action_text(action: Action, wording: Wording = "yume", omit_idle: bool = False) -> str:
    """The action description of ``action`` in ``wording``.

    ``omit_idle`` drops the sentence of an idle control, as the 5B webapp does; an action with both
    controls idle then renders as the empty string.
    """
    parts = []
    if not (omit_idle and action.keys == IDLE_KEYS):
        parts.append(key_sentence(action.keys, wording))
    if not (omit_idle and action.mouse == IDLE_MOUSE):
        parts.append(mouse_sentence(action.mouse, wording))
    return SENTENCE_SEPARATOR[wording].join(parts)


def _check_wording(wording: str) -> str:
    if wording not in KEY_SENTENCES:
        raise ActionError(f"unknown wording {wording!r}; expected one of {', '.join(WORDINGS)}")
    return wording


@dataclass(frozen=True)
class SentenceMatch:
    """An action sentence found in a caption."""

    start: int
    end: int
    control: Literal["keys", "mouse"]
    value: str
    wording: str


def _sentence_pattern(sentence: str) -> str:
    # Accept any whitespace between words, an optional "(symbol)" and an optional final period: the
    # wild has "The camera tilts up." without the symbol (MatrixGame-style prompt tables).
    body, _, symbol = sentence.rstrip(".").rpartition(" (")
    words = [re.escape(w) for w in body.split()]
    sym = re.escape("(" + symbol)
    if symbol == "·)":  # the idle symbol is also typed as an ASCII period: "(.)"
        sym = r"\([·.]\)"
    return r"(?<![\w'])" + r"\s+".join(words) + r"(?:\s*" + sym + r")?" + r"\s*\.?"


@lru_cache(maxsize=1)
def _sentence_regex() -> tuple[re.Pattern[str], dict[str, tuple[str, str, str]]]:
    table: dict[str, tuple[str, str, str]] = {}
    for wording in WORDINGS:
        for k, s in KEY_SENTENCES[wording].items():
            table.setdefault(s.lower(), ("keys", k, wording))
        for m, s in MOUSE_SENTENCES[wording].items():
            table.setdefault(s.lower(), ("mouse", m, wording))
    sentences = sorted(table, key=len, reverse=True)  # longest first: "tilts up and ..." before "tilts up"
    groups = [f"(?P<s{i}>{_sentence_pattern(s)})" for i, s in enumerate(sentences)]
    regex = re.compile("|".join(groups), re.IGNORECASE)
    by_group = {f"s{i}": table[s] for i, s in enumerate(sentences)}
    return regex, by_group


def find_action_sentences(text: str) -> list[SentenceMatch]:
    """Every action sentence of any wording in ``text``, in order of appearance."""
    regex, by_group = _sentence_regex()
    found = []
    for m in regex.finditer(text):
        control, value, wording = by_group[m.lastgroup]  # type: ignore[index]
        found.append(SentenceMatch(m.start(), m.end(), control, value, wording))  # type: ignore[arg-type]
    return found


def parse_action_text(text: str) -> Action:
    """Parse an action description; a control with no sentence is idle (the webapp omits idle ones).

    Raises ``ActionError`` when the text names no action or names two different states of one control.
    """
    return action_from_sentences(find_action_sentences(text), text)


def action_from_sentences(found: Sequence[SentenceMatch], text: str) -> Action:
    """The action stated by sentences already found in ``text`` (see :func:`parse_action_text`)."""
    if not found:
        raise ActionError(f"no action sentence found in {text[:80]!r}")
    keys = {m.value for m in found if m.control == "keys"}
    mouse = {m.value for m in found if m.control == "mouse"}
    if len(keys) > 1 or len(mouse) > 1:
        raise ActionError(f"conflicting action sentences in {text[:80]!r}: {sorted(keys)} {sorted(mouse)}")
    return Action(keys.pop() if keys else IDLE_KEYS, mouse.pop() if mouse else IDLE_MOUSE)


def detect_wording(text: str) -> str | None:
    """The wording of the first action sentence in ``text`` (``None`` when there is none)."""
    found = find_action_sentences(text)
    return found[0].wording if found else None


# ----------------------------------------------------------------------------------------------------
# Speed fields (YUME code format; values per Yume1.0 Algorithm 4, see ``yumebench.poses.speed_fields``)


@dataclass(frozen=True)
class SpeedFields:
    distance: float  # "Actual distance moved", 100 x mean displacement per second
    turn_speed: float  # "Angular change rate", mean degrees between consecutive displacements
    rotation_speed: float  # "View rotation speed", mean degrees between consecutive view axes

    def text(self, precision: int = 2) -> str:
        f = f"{{:.{precision}f}}"
        return (
            f"Actual distance moved:{f.format(self.distance)} at 100 meters per second."
            f"Angular change rate (turn speed):{f.format(self.turn_speed)}."
            f"View rotation speed:{f.format(self.rotation_speed)}."
        )


_NUM = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
SPEED_REGEX = re.compile(
    r"Actual\s+distance\s+moved\s*:\s*" + _NUM + r"\s*at\s+100\s+meters\s+per\s+second\.\s*"
    r"Angular\s+change\s+rate\s*\(turn\s+speed\)\s*:\s*" + _NUM + r"\s*\.\s*"
    r"View\s+rotation\s+speed\s*:\s*" + _NUM + r"\s*\.?",
    re.IGNORECASE,
)


def parse_speed_fields(text: str) -> SpeedFields | None:
    m = SPEED_REGEX.search(text)
    if m is None:
        return None
    return SpeedFields(float(m.group(1)), float(m.group(2)), float(m.group(3)))

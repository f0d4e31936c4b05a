import pytest

from data_pipeline.captions import split_caption
from yumebench.actions import ALL_ACTIONS, WORDINGS, Action, SpeedFields, action_text

EVENTS = [
    "A ghost appears in the rainy alley, lanterns sway.",
    "This video depicts a city walk scene with a first-person view (FPV).",
    "First-person perspective. A dragon lands on the bridge; people run (screaming).",
]


@pytest.mark.parametrize("wording", WORDINGS)
@pytest.mark.parametrize("event", EVENTS)
def test_split_keeps_every_event_word_in_every_wording(wording, event):
    for action in ALL_ACTIONS[::7]:
        for caption in (
            event + action_text(action, wording),  # glued, as the YUME code writes it
            f"{event} {action_text(action, wording)} {SpeedFields(4, 0, 0).text(0)}",
            f"{action_text(action, wording)} {event}",
        ):
            split = split_caption(caption)
            assert split.event_text.split() == event.split(), caption
            assert split.stated_action == action
            assert split.wording == wording or {split.wording, wording} == {"yume", "paper"}


def test_speed_fields_are_removed_and_parsed():
    caption = "Night market. Person moves left (A).Camera turns right (→).Actual distance moved:4.5 at 100 meters "
    caption += "per second.Angular change rate (turn speed):12.View rotation speed:0.1."
    split = split_caption(caption)
    assert split.event_text == "Night market."
    assert split.speeds == SpeedFields(4.5, 12, 0.1)
    assert split.stated_action == Action("A", "→")
    assert split.stated_text == "Person moves left (A). Camera turns right (→)."


def test_caption_without_actions_is_all_event():
    split = split_caption("A red tram passes a bakery.")
    assert split.event_text == "A red tram passes a bakery." and split.stated_action is None and split.wording is None


def test_conflicting_sentences_are_flagged():
    split = split_caption("Street. Person moves left (A). Person moves right (D).")
    assert split.conflicting and split.stated_action is None and split.event_text == "Street."

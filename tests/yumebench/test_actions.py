import pytest

from yumebench.actions import (
    ALL_ACTIONS,
    KEYS,
    MOUSE,
    WORDINGS,
    Action,
    ActionError,
    SpeedFields,
    action_text,
    detect_wording,
    find_action_sentences,
    parse_action_sequence,
    parse_action_text,
    parse_speed_fields,
)


def test_vocabulary_is_nine_by_nine():
    assert len(KEYS) == 9 and len(MOUSE) == 9 and len(set(ALL_ACTIONS)) == 81


@pytest.mark.parametrize("wording", WORDINGS)
def test_text_round_trip_is_identity_for_all_81_pairs(wording):
    texts = set()
    for action in ALL_ACTIONS:
        text = action_text(action, wording)
        assert parse_action_text(text) == action
        assert action_text(parse_action_text(text), wording) == text
        assert detect_wording(text) == wording or wording == "paper" and detect_wording(text) in ("paper", "yume")
        texts.add(text)
    assert len(texts) == 81


@pytest.mark.parametrize("wording", WORDINGS)
def test_omitting_idle_sentences_still_round_trips(wording):
    for action in ALL_ACTIONS:
        text = action_text(action, wording, omit_idle=True)
        if action == Action():
            assert text == ""
        else:
            assert parse_action_text(text) == action


def test_published_sentences_exactly():
    assert action_text(Action("W", "→"), "yume") == "Person moves forward (W).Camera turns right (→)."
    assert action_text(Action("None", "←"), "paper") == "Camera stands still (·). Camera turns left (←)."
    assert action_text(Action("S+A", "↓→"), "5b") == (
        "The camera pulls back and moves to the left (S+A). The camera tilts down and pans to the right (↓→)."
    )
    assert action_text(Action("None", "·"), "5b") == (
        "The camera's movement direction remains stationary (·). "
        "The rotation direction of the camera remains stationary (·)."
    )


def test_parse_tolerates_wild_spacing_case_and_missing_symbols():
    assert parse_action_text("person   moves forward and left (W+A).\ncamera turns RIGHT (→)") == Action("W+A", "→")
    assert parse_action_text("The camera tilts up. The camera pushes forward (W).") == Action("W", "↑")
    assert parse_action_text("The rotation direction of the camera remains stationary (.).") == Action()


def test_parse_rejects_conflicts_and_empty():
    with pytest.raises(ActionError, match="conflicting"):
        parse_action_text("Person moves left (A). Person moves right (D).")
    with pytest.raises(ActionError, match="no action sentence"):
        parse_action_text("A dragon appears over the city.")


def test_find_sentences_inside_a_caption_keeps_positions():
    event = "A rainy street at night, neon signs glow."
    caption = f"{event} Person moves forward (W).Camera turns left (←). Then a bus passes."
    found = find_action_sentences(caption)
    assert [(m.control, m.value) for m in found] == [("keys", "W"), ("mouse", "←")]
    rest = caption[: found[0].start] + caption[found[-1].end :]
    assert rest.split() == (event + " Then a bus passes.").split()


def test_symbols_and_aliases():
    assert Action.parse("w+a,→") == Action("W+A", "→")
    assert Action.parse("A+W, up-left") == Action("W+A", "↑←")
    assert Action.parse("D+S,down") == Action("S+D", "↓")
    assert Action.parse("none,·") == Action()
    assert Action.parse("W") == Action("W", "·")
    assert Action.parse("·,→↑") == Action("None", "↑→")
    for bad in ("Q,→", "W,↗", "W+S,·", "W,→,←"):
        with pytest.raises(ActionError):
            Action.parse(bad)
    with pytest.raises(ActionError, match="action 2"):
        parse_action_sequence("W,→;X,·")
    assert parse_action_sequence("W,→; S,· ;") == [Action("W", "→"), Action("S", "·")]


def test_components_round_trip():
    for action in ALL_ACTIONS:
        assert Action.from_components(*action.components) == action
    assert Action("W+D", "↑←").components == (1, 1, -1, 1)


def test_speed_fields_round_trip_and_wild_forms():
    fields = SpeedFields(4.25, 12.5, 0.13)
    assert parse_speed_fields("x. " + fields.text()) == fields
    wild = (
        "Actual distance moved:4.3697374288015297at 100 meters per second."
        "Angular change rate (turn speed):4.52.View rotation speed:4.14601429683874179."
    )
    assert parse_speed_fields(wild) == SpeedFields(4.3697374288015297, 4.52, 4.14601429683874179)
    spaced = "Actual distance moved: 4 at 100 meters per second. Angular change rate (turn speed): 0. "
    spaced += "View rotation speed: 0."
    assert parse_speed_fields(spaced) == SpeedFields(4, 0, 0)
    assert parse_speed_fields("no speeds here") is None

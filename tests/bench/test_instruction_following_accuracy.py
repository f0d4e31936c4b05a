"""bench/instruction_following_accuracy.py: which conditions ``--conditions`` picks (names and shell-style
patterns, shared with the Mitsuba and evidence benches), and its one-line error on an item that matches
none."""

import importlib.util
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "instruction_following_accuracy.py"
_spec = importlib.util.spec_from_file_location("instruction_following_accuracy", _SCRIPT)
accuracy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(accuracy)

KNOWN = ["street", "street-ramp", "street-wobble", "pano-walk", "pano-walk-ramp", "pano-night"]


def test_names_and_patterns_pick_each_condition_once_in_the_order_given():
    assert accuracy.select_conditions(None, KNOWN) == KNOWN
    assert accuracy.select_conditions("pano-night,street", KNOWN) == ["pano-night", "street"]
    # a pattern's matches come in the corpus's order; a condition named twice is kept once
    assert accuracy.select_conditions("pano-*", KNOWN) == ["pano-walk", "pano-walk-ramp", "pano-night"]
    assert accuracy.select_conditions("*-ramp, street*", KNOWN) == [
        "street-ramp",
        "pano-walk-ramp",
        "street",
        "street-wobble",
    ]
    assert accuracy.select_conditions("street-[!w]*", KNOWN) == ["street-ramp"]


@pytest.mark.parametrize("spec, named", [("street,strete", "strete"), ("pano-x*", "pano-x*"), (" , ", "' , '")])
def test_an_item_that_matches_no_condition_is_a_one_line_error_naming_it(spec, named):
    with pytest.raises(SystemExit) as error:
        accuracy.select_conditions(spec, KNOWN)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"--conditions: no condition matches {named}; known: street, street-ramp")

"""Synthetic inputs for the dataset builder: rendered scenes with known camera paths and captions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from yumebench.actions import Action
from yumebench.synthetic import SceneConfig, write_sample

SMALL = dict(width=64, height=48, num_boxes=4)

# name -> (segments of (action, frame pairs), caption wording)
GOOD_INPUTS = {
    "walk": ([(Action("W+A", "→"), 40), (Action("S", "·"), 36)], "yume"),
    "look": ([(Action("None", "↑"), 45)], "5b"),
    "mixed": ([(Action("W+D", "↓←"), 34), (Action("D", "·"), 10), (Action("S+A", "←"), 40)], "paper"),
}


def make_inputs(root: Path) -> dict:
    """Render the good inputs and write a JSONL manifest; returns {name: sample} plus the manifest path."""
    samples = {}
    for i, (name, (segments, wording)) in enumerate(GOOD_INPUTS.items()):
        samples[name] = write_sample(
            root / "videos",
            name,
            segments,
            SceneConfig(seed=10 + i, **SMALL),
            fps=30,
            wording=wording,
            event=f"Scene {name}: a plaza with fountains, two cyclists pass by.",
        )
    manifest = root / "manifest.jsonl"
    with manifest.open("w") as f:
        for name in samples:
            row = {"video": f"videos/{name}.mp4", "poses": f"videos/{name}.npy", "caption_file": f"videos/{name}.txt"}
            f.write(json.dumps(row) + "\n")
    samples["manifest"] = manifest
    return samples


@pytest.fixture(scope="session")
def good_inputs(tmp_path_factory) -> dict:
    return make_inputs(tmp_path_factory.mktemp("inputs"))


def add_bad_inputs(root: Path, good: dict) -> list[dict]:
    """Rows for every bad-input kind, each with the stage it must be quarantined at."""
    bad = root / "bad"
    bad.mkdir(parents=True, exist_ok=True)
    walk = good["walk"]
    (bad / "corrupt.mp4").write_bytes(walk["video"].read_bytes()[:300])
    nan = np.load(walk["poses"])
    nan[5, 0, 0] = np.nan
    np.save(bad / "nan.npy", nan)
    np.save(bad / "short.npy", np.load(walk["poses"])[:50])
    (bad / "latin1.txt").write_bytes("Caf\xe9 au bord de l'eau.".encode("latin-1"))
    return [
        {"row": {"video": str(bad / "corrupt.mp4")}, "stage": "probe", "names": "corrupt.mp4"},
        {
            "row": {"video": str(walk["video"]), "poses": str(bad / "missing.npy")},
            "stage": "poses",
            "names": "missing.npy",
        },
        {"row": {"video": str(walk["video"]), "poses": str(bad / "nan.npy")}, "stage": "poses", "names": "nan.npy"},
        {"row": {"video": str(walk["video"]), "poses": str(bad / "short.npy")}, "stage": "poses", "names": "short.npy"},
        {"row": {"video": str(good["look"]["video"]), "caption": "   "}, "stage": "caption", "names": "look.mp4"},
        {
            "row": {"video": str(good["mixed"]["video"]), "caption_file": str(bad / "latin1.txt")},
            "stage": "caption",
            "names": "latin1.txt",
        },
        {
            "row": {"video": str(walk["video"]), "poses": str(walk["poses"]), "caption_file": str(walk["caption"])},
            "stage": "input",
            "names": "duplicate",
        },
    ]

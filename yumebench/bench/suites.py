"""Benchmark suites shipped with the toolkit (``yumebench/suites/``) and specs built from them."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from yumebench.actions import Action, action_text

SUITES = {"yume-bench": "yume_bench.json"}


def load_suite(name: str) -> dict:
    """The suite definition with its items expanded (deterministic ids ``yb-001`` ...)."""
    if name not in SUITES:
        raise KeyError(f"unknown suite {name!r}; known: {', '.join(SUITES)}")
    data = json.loads(resources.files("yumebench.suites").joinpath(SUITES[name]).read_text(encoding="utf-8"))
    p = data["protocol"]
    items = []
    for row in data["composition"]:
        action = Action(row["keys"], row["mouse"])
        for kind, count in (("clip", row["clips"]), ("image", row["images"])):
            for _ in range(count):
                n = len(items) + 1
                segments = [
                    {
                        "start": k * p["chunk_frames"],
                        "end": (k + 1) * p["chunk_frames"],
                        "keys": action.keys,
                        "mouse": action.mouse,
                    }
                    for k in range(p["num_chunks"])
                ]
                items.append(
                    {
                        "id": f"yb-{n:03d}",
                        "video": f"yb-{n:03d}.mp4",
                        "prompt": data["prompt_prefix"] + action_text(action, "yume"),
                        "image": None,
                        "source": "sekai-real-hq held-out clip" if kind == "clip" else "rare-action screenshot (jpg/)",
                        "segments": segments,
                    }
                )
    data["items"] = items
    return data


def spec_from_suite(name: str, videos: str | Path) -> tuple[list[dict], list[str]]:
    """Spec items for the videos present in ``videos`` (named ``<id>.mp4``) and the ids missing."""
    suite = load_suite(name)
    folder = Path(videos)
    present, missing = [], []
    for item in suite["items"]:
        if (folder / item["video"]).exists():
            present.append({k: item[k] for k in ("id", "video", "prompt", "image", "segments")})
        else:
            missing.append(item["id"])
    return present, missing


def suite_items(name: str, config: str = "yume1.5-5b") -> list[dict]:
    """What a generator needs for each item before any video exists: the suite's item (id, file name,
    prompt, image, segments), its protocol and a ``yumebench model generate`` command line that makes
    ``<id>.mp4`` (block by block, one commanded action per 32-frame chunk)."""
    import shlex

    suite = load_suite(name)
    protocol = suite["protocol"]
    out = []
    for item in suite["items"]:
        actions = ";".join(f"{s['keys']},{s['mouse']}" for s in item["segments"])
        command = [
            "yumebench", "model", "generate", "--config", config, "--weights", "CKPT",
            "--prompt", item["prompt"], "--actions", actions,
            "--resolution", f"{protocol['height']}x{protocol['width']}", "--out", item["video"],
        ]  # fmt: skip
        # every Yume-Bench item is image-to-video: the first frame of a held-out Sekai clip or a rare-action
        # screenshot (neither is redistributed: put it at <id>.jpg)
        command[command.index("--prompt") : command.index("--prompt")] = ["--image", f"{item['id']}.jpg"]
        out.append({**item, "image_file": f"{item['id']}.jpg", "protocol": protocol, "command": shlex.join(command)})
    return out

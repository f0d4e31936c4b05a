import json

import numpy as np
from typer.testing import CliRunner

from yumebench.actions import Action
from yumebench.cli import app
from yumebench.synthetic import segments_path

runner = CliRunner()


def test_help_lists_every_group_and_teaches():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("data", "bench", "model", "leaderboard", "demo"):
        assert name in result.output
    for group in ("data", "bench", "model", "leaderboard"):
        sub = runner.invoke(app, [group, "--help"])
        assert sub.exit_code == 0 and "Example:" in sub.output
    assert "Example:" in runner.invoke(app, ["data", "actions", "--help"]).output


def test_data_actions_labels_and_runs(tmp_path):
    c2w = segments_path([(Action("W+D", "↑"), 35), (Action("None", "←"), 5)])
    np.save(tmp_path / "p.npy", c2w)
    out = runner.invoke(app, ["data", "actions", str(tmp_path / "p.npy"), "--json"])
    assert out.exit_code == 0
    labels = json.loads(out.output)
    assert len(labels) == 40 and labels[0] == {"frame": 0, "keys": "W+D", "mouse": "↑"}
    assert labels[-1] == {"frame": 39, "keys": "None", "mouse": "←"}
    runs = json.loads(
        runner.invoke(app, ["data", "actions", str(tmp_path / "p.npy"), "--min-run", "33", "--json"]).output
    )
    assert runs == [{"start": 0, "end": 36, "keys": "W+D", "mouse": "↑"}]
    text = runner.invoke(app, ["data", "actions", str(tmp_path / "p.npy"), "--stride", "5"]).output
    assert text.splitlines()[0] == "frame 0\tW+D\t↑" and len(text.splitlines()) == 8


def test_bad_pose_file_is_one_line_and_exit_2(tmp_path):
    bad = np.tile(np.eye(4), (4, 1, 1))
    bad[2, 1, 1] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    result = runner.invoke(app, ["data", "actions", str(tmp_path / "bad.npy")])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "bad.npy" in lines[0] and "row 2" in lines[0]

"""``yumebench model``: the Yume1.5 reference model: generate, cache action embeddings, train.

Examples:
    yumebench model generate --config tiny --prompt "A rainy street" --actions "W,·;W+A,→" --out v.mp4
"""

from __future__ import annotations

import typer

from yumebench.cli._common import not_built

app = typer.Typer(
    help=(
        "Run and train the Yume1.5 reference model (Wan2.2-5B DiT with TSCM).\n\n"
        'Example: yumebench model generate --config tiny --prompt "A rainy street" --actions "W,·;W+A,→" --out v.mp4'
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command()
def generate() -> None:
    """Generate an explorable video block by block from an image or a text and a stream of actions."""
    not_built("yumebench model generate", 8)


@app.command("cache-actions")
def cache_actions() -> None:
    """Precompute the text embeddings of every action description."""
    not_built("yumebench model cache-actions", 8)


train_app = typer.Typer(
    help="Base training and Self-Forcing distillation.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(train_app, name="train")


@train_app.command("base")
def train_base() -> None:
    """Base training on the mixed dataset (rectified flow, alternating T2V/I2V)."""
    not_built("yumebench model train base", 9)


@train_app.command("self-forcing")
def train_self_forcing() -> None:
    """Self-Forcing distillation with TSCM (DMD loss)."""
    not_built("yumebench model train self-forcing", 9)

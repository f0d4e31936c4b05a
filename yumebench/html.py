"""Self-contained HTML pages with one sortable table (no external assets): the leaderboard and the
bench report share this."""

from __future__ import annotations

import html

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#1f2933}
table{border-collapse:collapse}th,td{border:1px solid #cbd2d9;padding:4px 8px;font-size:13px;vertical-align:top}
th{cursor:pointer;background:#f0f4f8}"""

_SCRIPT = """let dir = {};
function sortBy(col) {
  const body = document.querySelector('#table tbody');
  const rows = Array.from(body.rows);
  dir[col] = !dir[col];
  const key = r => { const t = r.cells[col].textContent; const n = parseFloat(t); return isNaN(n) ? t : n; };
  rows.sort((a, b) => { const x = key(a), y = key(b); return (x > y ? 1 : x < y ? -1 : 0) * (dir[col] ? -1 : 1); });
  rows.forEach(r => body.appendChild(r));
}"""


def sortable_page(title: str, intro_html: str, columns: list[str], rows_html: list[str], extra_css: str = "") -> str:
    """A page with ``title``, ``intro_html`` and a table whose columns sort on click. ``rows_html``
    are complete ``<tr>`` elements (cells already escaped by the caller)."""
    head = "".join(f'<th onclick="sortBy({i})">{html.escape(c)}</th>' for i, c in enumerate(columns))
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>\n'
        f"<style>\n{_STYLE}\n{extra_css}\n</style></head><body>\n<h1>{html.escape(title)}</h1>\n{intro_html}\n"
        f'<table id="table"><thead><tr>{head}</tr></thead><tbody>\n' + "\n".join(rows_html) + "\n</tbody></table>\n"
        f"<script>\n{_SCRIPT}\n</script>\n</body></html>\n"
    )

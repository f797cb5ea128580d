"""One module per output format, each rendering both the report and the comparison."""

from tools.cost.render.json import render_compare_json, render_json
from tools.cost.render.markdown import render_compare_markdown, render_markdown
from tools.cost.render.text import render_compare_text, render_text

__all__ = [
    "render_compare_json",
    "render_compare_markdown",
    "render_compare_text",
    "render_json",
    "render_markdown",
    "render_text",
]

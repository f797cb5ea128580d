"""The doctor's output formats: ``text`` for people, ``json`` for machines."""

from tools.doctor.render.json import render_json
from tools.doctor.render.text import render_text

__all__ = ["render_json", "render_text"]

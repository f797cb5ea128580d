"""Renders Mermaid source to PNG or SVG with mermaid-cli (``mmdc``) in the system's headless Chromium.

``make test`` installs both (``tools/bootstrap.py``): Debian's ``chromium``, and mermaid-cli from
``tools/review/package-lock.json`` into ``tools/review/node_modules`` with puppeteer's own browser
download skipped (it fails offline, and the system's Chromium serves).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

NPM_PREFIX = Path(__file__).resolve().parent
MMDC = NPM_PREFIX / "node_modules" / ".bin" / "mmdc"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
SET_UP = "`python3 -m tools.bootstrap test` installs it"


class MermaidError(Exception):
    """The diagram did not render: a missing tool, or mmdc's own message (a parse error names the line)."""


def find_mmdc() -> Path:
    if not os.access(MMDC, os.X_OK):
        raise MermaidError(f"mermaid-cli is not installed ({MMDC} is missing); {SET_UP}")
    return MMDC


def find_chromium() -> str:
    """``PUPPETEER_EXECUTABLE_PATH`` when set (any Chrome), else the first Chromium on PATH."""
    chosen = os.environ.get("PUPPETEER_EXECUTABLE_PATH")
    found = chosen if chosen and os.access(chosen, os.X_OK) else None
    found = found or next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)
    if not found:
        raise MermaidError(f"no headless Chromium found ({', '.join(CHROMIUM_NAMES)}); {SET_UP}")
    return found


def render(source: str, output: Path, *, scale: int = 1, timeout: float = 120) -> Path:
    """Writes ``output`` (its suffix chooses: .png, .svg, .pdf) from Mermaid ``source``."""
    mmdc, chromium = find_mmdc(), find_chromium()
    output = Path(output).resolve()
    with tempfile.TemporaryDirectory(prefix="mermaid-") as scratch:
        diagram, config = Path(scratch) / "diagram.mmd", Path(scratch) / "puppeteer.json"
        diagram.write_text(source)
        # Root cannot start Chromium's sandbox; the page is our own generated source.
        config.write_text(json.dumps({"executablePath": chromium, "args": ["--no-sandbox"]}))
        argv = [str(mmdc), "-q", "-i", str(diagram), "-o", str(output), "-p", str(config)]
        argv += ["-b", "white", "-s", str(scale)]
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise MermaidError(
                f"mmdc did not finish rendering {output.name} within {timeout:.0f} s"
            ) from None
    if result.returncode != 0 or not output.is_file():
        raise MermaidError(f"mmdc could not render {output.name}: {_message(result.stderr + result.stdout)}")
    return output


def _message(text: str) -> str:
    """mmdc's error without the JavaScript stack trace under it (``Parse error on line N: …``)."""
    lines = [line for line in text.splitlines() if line.strip()]
    kept = [line for line in lines if not line.lstrip().startswith("at ") and "(file://" not in line]
    kept = [line for line in kept if "mermaid-cli-intercept" not in line]
    return "\n".join(kept).strip() or f"exit status without a message ({text.strip()[:200]!r})"

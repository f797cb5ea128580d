"""The README and docs/ link to each other: every relative link and #anchor must resolve, as GitHub
renders them, and every page in docs/ must be reachable from the README. No network: external links
are not fetched."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from tests.conftest import ROOT

FENCE = re.compile(r"^ {0,3}(```|~~~)")
HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
CODE_SPAN = re.compile(r"(`+).*?\1")
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+[^)]*)?\)")  # inline links and images
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)")
HTML = re.compile(r"""\b(?:href|src)=["']([^"']+)["']""")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:: never fetched


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks, where headings and links mean something."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: its rendered text lower-cased, punctuation but `-` and `_` dropped,
    each space a `-` (links render as their text; backticks go as punctuation)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return "".join(ch for ch in text if ch.isalnum() or ch in " -_").replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor; a repeated one gets `-1`, `-2`, ... as GitHub numbers them."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose(text):
        match = HEADING.match(line)
        if not match:
            continue
        slug = anchor(match.group(1) or "")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(f"{slug}-{count}" if count else slug)
    return found


def links(text: str) -> list[str]:
    """Every link target of a page: inline links and images, reference definitions, HTML href/src."""
    targets = []
    for line in prose(text):
        line = CODE_SPAN.sub("", line)
        targets += LINK.findall(line) + REFERENCE.findall(line) + HTML.findall(line)
    return targets


def problems(page: Path, root: Path) -> list[str]:
    """One line per broken relative link or unknown anchor of ``page``: the file and the link."""
    name = page.relative_to(root).as_posix()
    found = []
    for target in links(page.read_text()):
        if SCHEME.match(target):
            continue
        path, _, fragment = target.partition("#")
        resolved = (page.parent / unquote(path)).resolve() if path else page
        if not resolved.exists():
            found.append(f"{name}: {target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved.read_text()):
            found.append(f"{name}: {target}: no heading with this anchor")
    return found


def pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def test_every_relative_link_and_anchor_resolves():
    assert [line for page in pages(ROOT) for line in problems(page, ROOT)] == []


def test_every_docs_page_is_linked_from_the_readme():
    readme = ROOT / "README.md"
    linked = {
        (readme.parent / unquote(target.partition("#")[0])).resolve()
        for target in links(readme.read_text())
        if not SCHEME.match(target)
    }
    assert [page.name for page in pages(ROOT)[1:] if page.resolve() not in linked] == []


def test_anchors_follow_githubs_rules():
    assert anchor("Deploy rehearsal") == "deploy-rehearsal"
    assert anchor("CI/CD") == "cicd"
    assert anchor("`homu-data`: the data tier both options share") == (
        "homu-data-the-data-tier-both-options-share"
    )
    assert anchor("Option 1: `homu-fargate`") == "option-1-homu-fargate"
    assert anchor("db_app_username and [a link](x.md)") == "db_app_username-and-a-link"
    text = "# Setup\n\n```sh\n# not a heading\n```\n\n## Setup\n\n### Setup ##\n"
    assert anchors(text) == {"setup", "setup-1", "setup-2"}


def test_the_checker_reports_a_broken_link_and_an_unknown_anchor(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## Steps\n\n## Steps\n")
    (tmp_path / "README.md").write_text(
        "# Front\n\n"
        "[fine](docs/guide.md#steps-1), [fine too](#front), [external](https://example.com/nowhere),\n"
        "[gone](docs/missing.md), [no such heading](docs/guide.md#nowhere), `[code](ignored.md)`\n"
        "\n```\n[in a code block](also-ignored.md)\n```\n"
    )
    assert problems(tmp_path / "README.md", tmp_path) == [
        "README.md: docs/missing.md: no such file",
        "README.md: docs/guide.md#nowhere: no heading with this anchor",
    ]

"""The README's architecture diagrams and their images, regenerated from a synthesis.

    python -m tools.review.architecture [--check] [--outdir cdktf.out]

Synthesizes nothing: it reads a cdktf output directory (the README shows the guide's defaults, so
synthesize with no HOMU_* settings first) and, for each of the guide's options, writes a ```mermaid
block into README.md between the lines ``<!-- architecture:begin -->`` and ``<!-- architecture:end
-->``, and renders docs/architecture-<compute>.png with the source it was rendered from beside it
(docs/architecture-<compute>.mmd). ``--check`` writes nothing and exits 1 naming what is stale. PNG
bytes are never compared (Chromium's output varies between versions): an image is current when the
source recorded beside it is.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from modules.names import COMPUTE_STACKS
from tools.cost.options import Option
from tools.review.diagram import diagram_options, option_diagram
from tools.review.mermaid import MermaidError, render
from tools.tfjson import TerraformJsonError, read_stacks

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- architecture:begin -->", "<!-- architecture:end -->"
NOTICE = "<!-- written by `python -m tools.review.architecture` from the synthesized stacks: edit those -->"
SCALE = 2  # sharp on high-density screens


class ArchitectureError(Exception):
    """What stops the tool, in one line."""


@dataclass(frozen=True)
class Diagram:
    option: Option
    source: str
    image: Path  # docs/architecture-<compute>.png

    @property
    def recorded(self) -> Path:
        """The Mermaid source the image was rendered from."""
        return self.image.with_suffix(".mmd")

    def current(self) -> bool:
        return (
            self.image.is_file()
            and self.recorded.is_file()
            and self.recorded.read_text() == self.source + "\n"
        )


def diagrams(outdir: Path, docs: Path) -> list[Diagram]:
    try:
        stacks = read_stacks(outdir)
    except TerraformJsonError as error:
        raise ArchitectureError(str(error)) from None
    options = diagram_options(stacks)
    if not options:
        raise ArchitectureError(
            f"{outdir}: no option's stacks are all there (synthesize first: `make synth`)"
        )
    found = []
    for option in options:
        compute = next(name for name in option.stacks if name in COMPUTE_STACKS)
        image = docs / f"architecture-{compute.split('-', 1)[-1]}.png"
        found.append(Diagram(option, option_diagram(stacks, option), image))
    return found


def block(found: list[Diagram], readme: Path) -> list[str]:
    """The README's lines from the begin marker to the end marker."""
    lines = [BEGIN, NOTICE]
    for diagram in found:
        label = diagram.option.label[:1].upper() + diagram.option.label[1:]
        image = Path(os.path.relpath(diagram.image, readme.parent)).as_posix()
        lines += ["", f"**{label}**: {' + '.join(diagram.option.stacks)} ([image]({image}))", ""]
        lines += ["```mermaid", *diagram.source.splitlines(), "```"]
    return [*lines, "", END]


def _markers(lines: list[str], readme: Path) -> tuple[int, int]:
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(begins) != 1 or len(ends) != 1 or begins[0] > ends[0]:
        raise ArchitectureError(
            f"{readme} needs one `{BEGIN}` line and, after it, one `{END}` line where the diagrams go"
        )
    return begins[0], ends[0]


def updated_readme(found: list[Diagram], readme: Path) -> tuple[str, str]:
    """The README as it is, and as it should be."""
    text = readme.read_text()
    lines = text.splitlines()
    begin, end = _markers(lines, readme)
    wanted = [*lines[:begin], *block(found, readme), *lines[end + 1 :]]
    return text, "\n".join(wanted) + ("\n" if text.endswith("\n") else "")


def stale(found: list[Diagram], readme: Path) -> list[str]:
    """What differs from the diagrams, one line each; nothing when all is current."""
    current, wanted = updated_readme(found, readme)
    lines = [f"{readme}: the architecture block differs from the stacks"] if current != wanted else []
    for diagram in found:
        if not diagram.image.is_file():
            lines.append(f"{diagram.image}: missing")
        elif not diagram.current():
            lines.append(f"{diagram.image}: rendered from other source than the stacks' ({diagram.recorded})")
    return lines


def write(found: list[Diagram], readme: Path) -> list[Path]:
    """Writes what is stale; the paths written."""
    written = []
    current, wanted = updated_readme(found, readme)  # before rendering: missing markers stop it first
    for diagram in found:
        if diagram.current():
            continue
        diagram.image.parent.mkdir(parents=True, exist_ok=True)
        render(diagram.source, diagram.image, scale=SCALE)
        diagram.recorded.write_text(diagram.source + "\n")
        written += [diagram.image, diagram.recorded]
    if current != wanted:
        readme.write_text(wanted)
        written.append(readme)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.review.architecture", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming what is stale")
    parser.add_argument("--outdir", type=Path, default=Path("cdktf.out"), help="the cdktf output (cdktf.out)")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md", help="%(default)s")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="%(default)s")
    args = parser.parse_args(argv)
    try:
        found = diagrams(args.outdir, args.docs)
        if args.check:
            lines = stale(found, args.readme)
            for line in lines:
                print(f"stale: {line}", file=sys.stderr)
            if lines:
                print("regenerate with `python -m tools.review.architecture`", file=sys.stderr)
            return 1 if lines else 0
        written = write(found, args.readme)
    except (ArchitectureError, MermaidError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"architecture: {', '.join(map(str, written)) or 'all current'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The scan's failures as SARIF 2.1.0, for GitHub code scanning."""

from __future__ import annotations

import json
from pathlib import Path

from tools.scan.runner import ROOT, Finding, Target


def write(targets: list[Target], path: Path) -> None:
    rules = {f.check_id: f.name for t in targets for f in t.failed}
    results = [
        {
            "ruleId": f.check_id,
            "level": "error",
            "message": {"text": f"{f.name} ({f.resource})"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _artifact(t, f)},
                        "region": {"startLine": max(f.line, 1)},
                    }
                }
            ],
        }
        for t in targets
        for f in t.failed
    ]
    driver = {
        "name": "checkov",
        "informationUri": "https://www.checkov.io",
        "rules": [{"id": i, "name": i, "shortDescription": {"text": n}} for i, n in sorted(rules.items())],
    }
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }
    path.write_text(json.dumps(sarif, indent=2))


def _artifact(target: Target, f: Finding) -> str:
    """The file's path relative to the repository when it is inside it (what code scanning needs)."""
    source = target.source if target.source.is_file() else target.source / Path(f.file).name
    try:
        return str(source.resolve().relative_to(ROOT))
    except ValueError:
        return str(source)

"""Every check as an object, the counts, and the exit code the command returns."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict

from tools.doctor.doctor import Diagnosis
from tools.doctor.model import OK, PROBLEM, UNCHECKED


def render_json(diagnosis: Diagnosis, exit_code: int) -> str:
    counts = Counter(c.status for c in diagnosis.checks)
    return (
        json.dumps(
            {
                "stacks": diagnosis.stacks,
                "checks": [asdict(c) for c in diagnosis.checks],
                "summary": {status: counts[status] for status in (OK, PROBLEM, UNCHECKED)},
                "exit_code": exit_code,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )

"""Every scan result as JUnit XML: one suite per target, one case per check and resource."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tools.scan.runner import Target


def write(targets: list[Target], path: Path) -> None:
    suites = ET.Element("testsuites")
    for t in targets:
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=t.name,
            tests=str(len(t.passed) + len(t.failed) + len(t.skipped)),
            failures=str(len(t.failed)),
            skipped=str(len(t.skipped)),
        )
        for status, findings in (("passed", t.passed), ("failed", t.failed), ("skipped", t.skipped)):
            for f in findings:
                case = ET.SubElement(
                    suite, "testcase", classname=f"{t.name}.{f.resource}", name=f"{f.check_id} {f.name}"
                )
                if status == "failed":
                    ET.SubElement(case, "failure", message=f"{f.check_id} failed on {f.resource} ({f.file})")
                elif status == "skipped":
                    ET.SubElement(case, "skipped", message=f.reason or "skipped")
    ET.ElementTree(suites).write(path, encoding="unicode", xml_declaration=True)

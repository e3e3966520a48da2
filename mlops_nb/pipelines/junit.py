"""JUnit XML for CI: one test case per pipeline step.

A step that ran and passed is a passing case; a cached step is ``skipped`` (message: the run
it reused); a failed step is a ``failure`` carrying the cell's traceback; a step skipped
because an upstream step failed is ``skipped`` with that reason.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import UsageError
from .results import PipelineResult


def junit_xml(result: PipelineResult) -> ET.ElementTree:
    counts = {
        "name": result.name,
        "tests": str(len(result.steps)),
        "failures": str(sum(s.status == "failed" for s in result.steps)),
        "errors": "0",
        "skipped": str(sum(s.status in ("cached", "skipped") for s in result.steps)),
        "time": f"{sum(s.duration for s in result.steps):.3f}",
    }
    suites = ET.Element("testsuites", counts)
    suite = ET.SubElement(suites, "testsuite", counts)
    if result.run_id:
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="run_id", value=result.run_id)
    for step in result.steps:
        case = ET.SubElement(
            suite, "testcase", classname=result.name, name=step.name, time=f"{step.duration:.3f}"
        )
        if step.status == "failed":
            error = step.error
            failure = ET.SubElement(
                case,
                "failure",
                message=step.reason,
                type=(error.ename or error.kind) if error else "failed",
            )
            failure.text = error.details() if error else step.reason
        elif step.status in ("cached", "skipped"):
            ET.SubElement(case, "skipped", message=f"{step.status}: {step.reason}")
        if step.run_id:
            ET.SubElement(case, "system-out").text = f"run_id: {step.run_id}"
    ET.indent(suites)
    return ET.ElementTree(suites)


def check_junit_path(path: str | os.PathLike[str]) -> Path:
    """Where the report goes (its folder is created, like pytest's ``--junitxml``)."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"junit report {target} is a folder; give a file like report.xml")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the junit report folder {target.parent}: {exc.strerror}"
        ) from None
    return target


def write_junit(result: PipelineResult, path: str | os.PathLike[str]) -> Path:
    target = check_junit_path(path)
    junit_xml(result).write(target, encoding="utf-8", xml_declaration=True)
    return target

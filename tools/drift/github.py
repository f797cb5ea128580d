"""One GitHub issue per drifted stack, kept up to date by the scheduled drift workflow.

``sync`` reads a ``python -m tools.drift --json`` report: a drifted stack gets an open issue (labelled
``drift``, titled ``Drift: <stack> (<environment>)``) whose body lists the findings, edited when they
change; a clean or no longer deployed stack's open issue gets a comment and is closed; a stack that
could not be planned keeps its issue as it is (nothing is known). Needs ``GITHUB_TOKEN`` (``issues:
write``) and ``GITHUB_REPOSITORY``; standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tools.markdown import cell

API_VERSION = "2022-11-28"
LABEL = "drift"
TIMEOUT_SECONDS = 30
MARKER = "<!-- homu-drift -->"  # the issues this workflow owns, whoever else uses the label


class GitHubError(Exception):
    """A GitHub API call failed; the message is the one line to print."""


def title(stack: str, environment: str) -> str:
    return f"Drift: {stack} ({environment})"


def body(report: dict[str, Any], run_url: str | None) -> str:
    lines = [
        MARKER,
        f"`python -m tools.drift {report['stack']}` found changes made outside Terraform"
        + (f" ([run]({run_url}))." if run_url else "."),
        "",
        "| resource | attribute | what changed | fix |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {cell(f['name'])} ({cell(f['address'])}) | {cell(f['attribute'] or '(whole resource)')} "
        f"| {cell(f['sentence'])} | {cell(f['fix'])} |"
        for f in report["drift"]
    ]
    if report["pending"]:
        lines += [
            "",
            f"Also {len(report['pending'])} pending change(s) of the code, not drift: the next deploy applies them.",
        ]
    lines += [
        "",
        "This issue closes itself when a later drift check finds the stack clean (docs/operating.md).",
    ]
    return "\n".join(lines)


class GitHub:
    def __init__(self, repository: str, token: str, api_url: str) -> None:
        self.base = f"{api_url.rstrip('/')}/repos/{repository}"
        self.token = token

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(payload).encode() if payload is not None else None,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            raise GitHubError(f"GitHub {method} {path}: HTTP {error.code} {error.reason}") from None
        except (urllib.error.URLError, TimeoutError) as error:
            raise GitHubError(f"GitHub {method} {path}: {error}") from None

    def open_issues(self) -> dict[str, dict[str, Any]]:
        """The workflow's open drift issues by title (pull requests share the endpoint: left out)."""
        found: dict[str, dict[str, Any]] = {}
        page = 1
        while True:
            listed = self.call("GET", f"/issues?state=open&labels={LABEL}&per_page=100&page={page}")
            for issue in listed:
                if "pull_request" not in issue and MARKER in (issue.get("body") or ""):
                    found[issue["title"]] = issue
            if len(listed) < 100:
                return found
            page += 1


def sync(report: dict[str, Any], *, environment: str, env: dict[str, str] | None = None) -> list[str]:
    """Opens, edits or closes the issues; one line per thing done."""
    env = dict(os.environ) if env is None else env
    missing = [name for name in ("GITHUB_TOKEN", "GITHUB_REPOSITORY") if not env.get(name)]
    if missing:
        raise GitHubError(f"{' and '.join(missing)} must be set (the workflow passes them)")
    github = GitHub(
        env["GITHUB_REPOSITORY"], env["GITHUB_TOKEN"], env.get("GITHUB_API_URL", "https://api.github.com")
    )
    run_url = (
        f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
        if env.get("GITHUB_SERVER_URL") and env.get("GITHUB_RUN_ID")
        else None
    )
    issues = github.open_issues()
    done = []
    for stack in report["stacks"]:
        name = title(stack["stack"], environment)
        issue = issues.get(name)
        if stack["status"] == "drifted":
            text = body(stack, run_url)
            if issue is None:
                created = github.call("POST", "/issues", {"title": name, "body": text, "labels": [LABEL]})
                done.append(f"{stack['stack']}: opened #{created['number']}")
            elif issue.get("body") != text:
                github.call("PATCH", f"/issues/{issue['number']}", {"body": text})
                done.append(f"{stack['stack']}: updated #{issue['number']}")
            else:
                done.append(f"{stack['stack']}: #{issue['number']} unchanged")
        elif stack["status"] in ("clean", "not deployed") and issue is not None:
            why = "no drift any more" if stack["status"] == "clean" else "the stack is not deployed any more"
            github.call(
                "POST",
                f"/issues/{issue['number']}/comments",
                {"body": f"Closed: {why}" + (f" ([run]({run_url}))." if run_url else ".")},
            )
            github.call(
                "PATCH", f"/issues/{issue['number']}", {"state": "closed", "state_reason": "completed"}
            )
            done.append(f"{stack['stack']}: closed #{issue['number']} ({why})")
        elif stack["status"] == "error" and issue is not None:
            done.append(f"{stack['stack']}: #{issue['number']} left open (the stack could not be planned)")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m tools.drift.github", description=__doc__.splitlines()[0]
    )
    parser.add_argument("report", type=Path, help="what python -m tools.drift --report wrote")
    parser.add_argument("--environment", required=True, help="the settings' environment, named in the titles")
    args = parser.parse_args(argv)
    try:
        report = json.loads(args.report.read_text())
        for line in sync(report, environment=args.environment):
            print(line)
    except (OSError, ValueError) as error:
        print(f"error: {args.report}: {error}", file=sys.stderr)
        return 1
    except GitHubError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

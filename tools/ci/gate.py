"""Check, before a privileged job asks AWS for credentials, that its GitHub environment is protected.

The AWS roles trust only OIDC tokens of jobs in one named GitHub environment. That condition is worth
exactly what the environment's own protection is worth, and two things can leave it worth nothing:

- A ``pull_request`` run uses the workflow file as the pull request changed it, so the pull request
  chooses which environment a job names. Only the environment's rules, which GitHub enforces whatever
  the workflow says, stand between that edit and the role. (The pull request can delete this step too:
  the gate catches a misconfigured environment, it is not itself the boundary.)
- GitHub creates a named environment the first time a job uses it, with no protection rules at all. A
  renamed or deleted environment therefore fails open; here it is an error.

Rules, by ``--purpose``:

- both: deployments only from the deploy branch (``--deploy-branch``, main by default), through custom
  deployment branch policies holding exactly one rule, of type ``branch``, naming it; no administrator
  bypass. "Protected branches only" is refused: it admits every branch any protection rule covers, which
  the environment's settings alone cannot show to be the deploy branch.
- ``plan`` (plans of pull requests, run by a ``workflow_run`` workflow): also at least one required
  reviewer, and self-review prevented. Its jobs run on the default branch, so the plan environment can be
  restricted to it like a deploy environment; then a workflow of any other branch, a pull request's
  edited one included, that names the environment cannot enter it.
- ``deploy`` (jobs on the deploy branch): nothing more.

``fetch`` reads the environment and, when it uses custom branch policies, their list, for both purposes.

Plans (docs.github.com/en/rest/deployments/environments, "About deployment environments"): environments,
environment secrets and deployment protection rules exist in public repositories on every current plan.
In private or internal repositories GitHub Pro, Team and Enterprise get environments, their secrets and
deployment branch restrictions, but required reviewers and wait timers only on GitHub Enterprise; GitHub
Free has no environments in private repositories at all. So the branch rule, which both purposes check,
works on Pro and Team, but without required reviewers the ``plan`` purpose cannot pass, by design: make
the repository public, move it to GitHub Enterprise, or give no pull request AWS credentials and plan
only after merging, from a ``deploy``-style environment restricted to the default branch. The gate reads
what is configured, not what GitHub enforces: its docs also say a Free repository turned private ignores
the rules it had as a public one, so run the gate only where the plan enforces what it checks.

The job needs ``permissions: actions: read`` (GitHub's fine-grained "Actions" repository permission,
read, for both endpoints) and ``env: GITHUB_TOKEN: ${{ github.token }}`` on the step. Standard library
only: it runs on the runner's bare Python before anything is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

API_VERSION = "2022-11-28"
TIMEOUT_SECONDS = 30
PURPOSES = ("plan", "deploy")


class GateError(Exception):
    """The environment could not be read; the message is the one line to print."""


def problems(
    environment: dict,
    *,
    purpose: str,
    branch_policies: list[dict] | None = None,
    deploy_branch: str = "main",
) -> list[str]:
    """One line per unmet rule for ``purpose``, given GitHub's "Get an environment" response and, when
    its ``custom_branch_policies`` is true, the ``branch_policies`` of "List deployment branch policies"."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}")
    name = environment["name"]
    settings = f"Settings > Environments > {name}"
    found = []
    rule = _reviewers_rule(environment)
    if purpose == "plan":
        if not (rule and rule.get("reviewers")):
            found.append(f"GitHub environment {name}: no required reviewers; {settings} > Required reviewers")
        elif rule.get("prevent_self_review") is not True:
            found.append(
                f"GitHub environment {name}: whoever starts a run can approve it; "
                f"{settings} > Prevent self-review"
            )
    # Both purposes: plan.yml's jobs run on the default branch too (workflow_run), so a job of any other
    # branch that names the environment cannot enter it.
    branch_problem = _branch_problem(environment, branch_policies, deploy_branch)
    if branch_problem:
        found.append(
            f"GitHub environment {name}: {branch_problem}; {settings} > Deployment branches and tags > "
            f"Selected branches and tags > only branch {deploy_branch}"
        )
    # Absent counts as allowed: GitHub's documented examples omit the field, so only an explicit false
    # shows that administrators cannot skip the rules above.
    if environment.get("can_admins_bypass") is not False:
        found.append(
            f"GitHub environment {name}: administrators can bypass its protection rules; {settings} > "
            "untick Allow administrators to bypass configured protection rules"
        )
    return found


def _reviewers_rule(environment: dict) -> dict | None:
    rules = environment.get("protection_rules") or []
    return next((rule for rule in rules if rule.get("type") == "required_reviewers"), None)


def _branch_problem(environment: dict, branch_policies: list[dict] | None, deploy_branch: str) -> str | None:
    policy = environment.get("deployment_branch_policy")
    if policy is None:
        return f"every branch can deploy, not only branch {deploy_branch}"
    if policy.get("protected_branches"):
        return f"every protected branch can deploy, not only branch {deploy_branch}"
    rules = [f"{rule.get('type')} {rule.get('name')}" for rule in branch_policies or []]
    if rules == [f"branch {deploy_branch}"]:
        return None
    return f"branch and tag rules [{', '.join(rules)}] instead of exactly [branch {deploy_branch}]"


def fetch(repository: str, name: str, *, token: str, api_url: str) -> tuple[dict, list[dict] | None]:
    """GitHub's "Get an environment" response and, when it uses custom branch policies, their list."""
    url = f"{api_url.rstrip('/')}/repos/{repository}/environments/{urllib.parse.quote(name, safe='')}"
    environment = _get(url, token, repository=repository, name=name)
    if not (environment.get("deployment_branch_policy") or {}).get("custom_branch_policies"):
        return environment, None
    # One page of 100 is enough: more than one rule fails the branch rule, of either purpose, anyway.
    listed = _get(f"{url}/deployment-branch-policies?per_page=100", token, repository=repository, name=name)
    return environment, listed["branch_policies"]


def _get(url: str, token: str, *, repository: str, name: str) -> dict:
    request = urllib.request.Request(
        url,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise GateError(
                f"GitHub environment {name} does not exist in {repository}, and a job naming it would "
                f"create it unprotected; Settings > Environments > New environment > {name}"
            ) from None
        raise GateError(
            f"GitHub answered {error.code}{_github_message(error)} to GET {url}; the job needs "
            f"`permissions: actions: read` for GITHUB_TOKEN to read environment {name}"
        ) from None
    except urllib.error.URLError as error:
        raise GateError(f"could not reach GitHub at {url}: {error.reason}") from None


def _github_message(error: urllib.error.HTTPError) -> str:
    """GitHub's own explanation ("Resource not accessible by integration"), when the body has one."""
    try:
        message = json.loads(error.read()).get("message")
    except (ValueError, AttributeError):
        return ""
    return f" ({message})" if message else ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--environment", required=True, metavar="NAME", help="the GitHub environment of the job"
    )
    parser.add_argument(
        "--purpose", required=True, choices=PURPOSES, help="which rules the environment must meet"
    )
    parser.add_argument(
        "--deploy-branch", default="main", help="the only branch whose jobs may enter the environment (main)"
    )
    parser.add_argument("--repository", help="OWNER/REPO (default: $GITHUB_REPOSITORY)")


def run(args: argparse.Namespace) -> int:
    token = os.environ.get("GITHUB_TOKEN")
    repository = args.repository or os.environ.get("GITHUB_REPOSITORY")
    if not token:
        print(
            "error: GITHUB_TOKEN is not set; give the step env GITHUB_TOKEN: ${{ github.token }}",
            file=sys.stderr,
        )
        return 1
    if not repository:
        print("error: no repository: pass --repository OWNER/REPO or set GITHUB_REPOSITORY", file=sys.stderr)
        return 1
    api_url = os.environ.get("GITHUB_API_URL") or "https://api.github.com"
    try:
        environment, branch_policies = fetch(repository, args.environment, token=token, api_url=api_url)
    except GateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    found = problems(
        environment, purpose=args.purpose, branch_policies=branch_policies, deploy_branch=args.deploy_branch
    )
    for line in found:
        print(f"error: {line}", file=sys.stderr)
    if found:
        return 1
    print(_summary(environment, args.deploy_branch))
    return 0


def _summary(environment: dict, deploy_branch: str) -> str:
    parts = []
    rule = _reviewers_rule(environment)
    count = len(rule.get("reviewers") or []) if rule else 0
    if count:
        parts.append(f"{count} required reviewer{'' if count == 1 else 's'}")
        if rule.get("prevent_self_review"):
            parts.append("self-review prevented")
    parts.append(f"only branch {deploy_branch} may enter")
    parts.append("no admin bypass")
    return f"GitHub environment {environment['name']}: {', '.join(parts)}"

"""tools/ci/gate.py: every rule passes and fails on responses shaped like GitHub's documented examples
(docs.github.com/en/rest/deployments/environments "Get an environment", .../branch-policies), and the
command end to end against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import argparse
import copy
import json
import socket
import threading
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools.ci import gate

OCTOCAT = {
    "login": "octocat",
    "id": 1,
    "node_id": "MDQ6VXNlcjE=",
    "avatar_url": "https://github.com/images/error/octocat_happy.gif",
    "gravatar_id": "",
    "url": "https://api.github.com/users/octocat",
    "html_url": "https://github.com/octocat",
    "followers_url": "https://api.github.com/users/octocat/followers",
    "following_url": "https://api.github.com/users/octocat/following{/other_user}",
    "gists_url": "https://api.github.com/users/octocat/gists{/gist_id}",
    "starred_url": "https://api.github.com/users/octocat/starred{/owner}{/repo}",
    "subscriptions_url": "https://api.github.com/users/octocat/subscriptions",
    "organizations_url": "https://api.github.com/users/octocat/orgs",
    "repos_url": "https://api.github.com/users/octocat/repos",
    "events_url": "https://api.github.com/users/octocat/events{/privacy}",
    "received_events_url": "https://api.github.com/users/octocat/received_events",
    "type": "User",
    "site_admin": False,
}
JUSTICE_LEAGUE = {
    "id": 1,
    "node_id": "MDQ6VGVhbTE=",
    "url": "https://api.github.com/teams/1",
    "html_url": "https://github.com/orgs/github/teams/justice-league",
    "name": "Justice League",
    "slug": "justice-league",
    "description": "A great team.",
    "privacy": "closed",
    "notification_setting": "notifications_enabled",
    "permission": "admin",
    "members_url": "https://api.github.com/teams/1/members{/member}",
    "repositories_url": "https://api.github.com/teams/1/repos",
    "parent": None,
}
WAIT_TIMER = {"id": 3736, "node_id": "MDQ6R2F0ZTM3MzY=", "type": "wait_timer", "wait_timer": 30}
BRANCH_POLICY_RULE = {"id": 3756, "node_id": "MDQ6R2F0ZTM3NTY=", "type": "branch_policy"}


def reviewers_rule(*, prevent_self_review: bool = True, reviewers: list | None = None) -> dict:
    return {
        "id": 3755,
        "node_id": "MDQ6R2F0ZTM3NTU=",
        "prevent_self_review": prevent_self_review,
        "type": "required_reviewers",
        "reviewers": [
            {"type": "User", "reviewer": OCTOCAT},
            {"type": "Team", "reviewer": JUSTICE_LEAGUE},
        ]
        if reviewers is None
        else reviewers,
    }


def plan_environment(**changes) -> dict:
    """GitHub's "Get an environment" example, made a protected plan environment (reviewers, and custom
    branch policies: pair it with ``MAIN_ONLY``); ``changes`` break it."""
    environment = {
        "id": 161088068,
        "node_id": "MDExOkVudmlyb25tZW50MTYxMDg4MDY4",
        "name": "infra-plan-prod",
        "url": "https://api.github.com/repos/octo-org/infra/environments/infra-plan-prod",
        "html_url": (
            "https://github.com/octo-org/infra/deployments/activity_log?environments_filter=infra-plan-prod"
        ),
        "created_at": "2020-11-23T22:00:40Z",
        "updated_at": "2020-11-23T22:00:40Z",
        "can_admins_bypass": False,
        "protection_rules": [WAIT_TIMER, reviewers_rule(), BRANCH_POLICY_RULE],
        "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
    }
    environment.update(changes)
    return copy.deepcopy(environment)


def deploy_environment(**changes) -> dict:
    environment = plan_environment(name="infra-deploy-prod", protection_rules=[BRANCH_POLICY_RULE])
    environment.update(changes)
    return environment


def branch_policy(name: str, kind: str = "branch", policy_id: int = 361471) -> dict:
    return {"id": policy_id, "node_id": "MDE2OkdhdGVCcmFuY2hQb2xpY3kzNjE0NzE=", "name": name, "type": kind}


MAIN_ONLY = [branch_policy("main")]
PLAN = "Settings > Environments > infra-plan-prod"
DEPLOY = "Settings > Environments > infra-deploy-prod"
SELECT_MAIN = f"{DEPLOY} > Deployment branches and tags > Selected branches and tags > only branch main"
PLAN_SELECT_MAIN = f"{PLAN} > Deployment branches and tags > Selected branches and tags > only branch main"
PLAN_EVERY_BRANCH = (
    f"GitHub environment infra-plan-prod: every branch can deploy, not only branch main; {PLAN_SELECT_MAIN}"
)
ADMIN_BYPASS = (
    "GitHub environment infra-plan-prod: administrators can bypass its protection rules; "
    f"{PLAN} > untick Allow administrators to bypass configured protection rules"
)


# The plan rules.


def test_plan_passes_with_reviewers_no_self_review_the_single_branch_rule_main_and_no_admin_bypass():
    assert gate.problems(plan_environment(), purpose="plan", branch_policies=MAIN_ONLY) == []


def test_plan_fails_without_a_required_reviewers_rule():
    environment = plan_environment(protection_rules=[WAIT_TIMER])

    assert gate.problems(environment, purpose="plan", branch_policies=MAIN_ONLY) == [
        f"GitHub environment infra-plan-prod: no required reviewers; {PLAN} > Required reviewers"
    ]


def test_plan_fails_with_an_empty_reviewer_list():
    environment = plan_environment(protection_rules=[reviewers_rule(reviewers=[])])

    assert gate.problems(environment, purpose="plan", branch_policies=MAIN_ONLY) == [
        f"GitHub environment infra-plan-prod: no required reviewers; {PLAN} > Required reviewers"
    ]


def test_plan_passes_with_a_single_reviewer():
    environment = plan_environment(
        protection_rules=[reviewers_rule(reviewers=[{"type": "User", "reviewer": OCTOCAT}])]
    )

    assert gate.problems(environment, purpose="plan", branch_policies=MAIN_ONLY) == []


def test_plan_fails_when_the_author_may_approve_their_own_run():
    # GitHub's documented example as it stands: prevent_self_review false.
    environment = plan_environment(protection_rules=[WAIT_TIMER, reviewers_rule(prevent_self_review=False)])

    assert gate.problems(environment, purpose="plan", branch_policies=MAIN_ONLY) == [
        (
            "GitHub environment infra-plan-prod: whoever starts a run can approve it; "
            f"{PLAN} > Prevent self-review"
        )
    ]


@pytest.mark.parametrize("bypass", [True, None])
def test_admin_bypass_fails_when_allowed_or_not_reported(bypass):
    environment = plan_environment(can_admins_bypass=bypass)
    if bypass is None:
        del environment["can_admins_bypass"]

    assert gate.problems(environment, purpose="plan", branch_policies=MAIN_ONLY) == [ADMIN_BYPASS]


def test_plan_fails_with_reviewers_but_no_branch_restriction():
    environment = plan_environment(deployment_branch_policy=None)

    assert gate.problems(environment, purpose="plan") == [PLAN_EVERY_BRANCH]


def test_plan_passes_restricted_to_main_and_fails_on_other_branch_rules():
    assert gate.problems(plan_environment(), purpose="plan", branch_policies=[branch_policy("main")]) == []
    for policies, listed in [
        (
            [branch_policy("main"), branch_policy("feature/*", policy_id=361472)],
            "branch main, branch feature/*",
        ),
        ([branch_policy("main", kind="tag")], "tag main"),
        (None, ""),
    ]:
        assert gate.problems(plan_environment(), purpose="plan", branch_policies=policies) == [
            (
                f"GitHub environment infra-plan-prod: branch and tag rules [{listed}] instead of exactly "
                f"[branch main]; {PLAN_SELECT_MAIN}"
            )
        ]


@pytest.mark.parametrize(
    ("purpose", "make", "name", "select"),
    [
        ("plan", plan_environment, "infra-plan-prod", PLAN_SELECT_MAIN),
        ("deploy", deploy_environment, "infra-deploy-prod", SELECT_MAIN),
    ],
)
def test_protected_branches_only_fails_for_either_purpose(purpose, make, name, select):
    environment = make(deployment_branch_policy={"protected_branches": True, "custom_branch_policies": False})

    assert gate.problems(environment, purpose=purpose) == [
        f"GitHub environment {name}: every protected branch can deploy, not only branch main; {select}"
    ]


def test_every_unmet_rule_is_its_own_line():
    environment = plan_environment(protection_rules=[], deployment_branch_policy=None, can_admins_bypass=True)

    assert gate.problems(environment, purpose="plan") == [
        f"GitHub environment infra-plan-prod: no required reviewers; {PLAN} > Required reviewers",
        PLAN_EVERY_BRANCH,
        ADMIN_BYPASS,
    ]


# The deploy rules.


def test_deploy_passes_with_the_single_branch_rule_main_and_no_reviewers():
    assert gate.problems(deploy_environment(), purpose="deploy", branch_policies=MAIN_ONLY) == []


def test_deploy_passes_with_another_deploy_branch():
    policies = [branch_policy("production")]

    assert (
        gate.problems(
            deploy_environment(), purpose="deploy", branch_policies=policies, deploy_branch="production"
        )
        == []
    )
    assert gate.problems(
        deploy_environment(), purpose="deploy", branch_policies=MAIN_ONLY, deploy_branch="production"
    ) == [
        (
            "GitHub environment infra-deploy-prod: branch and tag rules [branch main] instead of exactly "
            "[branch production]; Settings > Environments > infra-deploy-prod > "
            "Deployment branches and tags > "
            "Selected branches and tags > only branch production"
        )
    ]


def test_deploy_fails_when_every_branch_may_deploy():
    environment = deploy_environment(deployment_branch_policy=None)

    assert gate.problems(environment, purpose="deploy") == [
        f"GitHub environment infra-deploy-prod: every branch can deploy, not only branch main; {SELECT_MAIN}"
    ]


@pytest.mark.parametrize(
    "policies, listed",
    [
        (
            [branch_policy("release/*"), branch_policy("main", policy_id=361472)],
            "branch release/*, branch main",
        ),
        ([branch_policy("main", kind="tag")], "tag main"),
        ([branch_policy("*")], "branch *"),
        ([], ""),
        (None, ""),
    ],
)
def test_deploy_fails_unless_the_rules_are_exactly_branch_main(policies, listed):
    assert gate.problems(deploy_environment(), purpose="deploy", branch_policies=policies) == [
        (
            f"GitHub environment infra-deploy-prod: branch and tag rules [{listed}] instead of exactly "
            f"[branch main]; {SELECT_MAIN}"
        )
    ]


def test_deploy_fails_when_administrators_can_bypass():
    environment = deploy_environment(can_admins_bypass=True)

    assert gate.problems(environment, purpose="deploy", branch_policies=MAIN_ONLY) == [
        (
            "GitHub environment infra-deploy-prod: administrators can bypass its protection rules; "
            f"{DEPLOY} > untick Allow administrators to bypass configured protection rules"
        )
    ]


def test_an_unknown_purpose_is_refused():
    with pytest.raises(ValueError, match="purpose must be one of plan, deploy, not 'apply'"):
        gate.problems(plan_environment(), purpose="apply")


# fetch and run against a local server.


@pytest.fixture
def github(monkeypatch):
    """A stand-in for the GitHub API on 127.0.0.1: ``routes`` maps a request path to (status, JSON body);
    ``requests`` records each request's path and headers."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    routes: dict[str, tuple[int, object]] = {}
    requests: list[tuple[str, Message]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append((self.path, self.headers))
            status, body = routes.get(self.path, (404, {"message": "Not Found", "status": "404"}))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_test")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo-org/infra")
    monkeypatch.setenv("GITHUB_API_URL", url)
    yield argparse.Namespace(url=url, routes=routes, requests=requests)
    server.shutdown()
    server.server_close()
    thread.join()


PLAN_PATH = "/repos/octo-org/infra/environments/infra-plan-prod"
DEPLOY_PATH = "/repos/octo-org/infra/environments/infra-deploy-prod"
POLICIES_PATH = f"{DEPLOY_PATH}/deployment-branch-policies?per_page=100"
PLAN_POLICIES_PATH = f"{PLAN_PATH}/deployment-branch-policies?per_page=100"
MAIN_ONLY_LISTED = {"total_count": 1, "branch_policies": MAIN_ONLY}


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    gate.add_arguments(parser)
    return gate.run(parser.parse_args(argv))


def test_fetch_reads_the_environment_and_its_branch_policies_with_githubs_headers(github):
    github.routes[PLAN_PATH] = (200, plan_environment())
    github.routes[PLAN_POLICIES_PATH] = (200, MAIN_ONLY_LISTED)

    environment, policies = gate.fetch(
        "octo-org/infra", "infra-plan-prod", token="ghs_test", api_url=github.url
    )

    assert (environment, policies) == (plan_environment(), MAIN_ONLY)
    assert [path for path, _ in github.requests] == [PLAN_PATH, PLAN_POLICIES_PATH]
    for _, headers in github.requests:
        assert headers["Authorization"] == "Bearer ghs_test"
        assert headers["Accept"] == "application/vnd.github+json"
        assert headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_fetch_lists_branch_policies_only_for_custom_policies(github):
    github.routes[DEPLOY_PATH] = (200, deploy_environment())
    github.routes[POLICIES_PATH] = (200, MAIN_ONLY_LISTED)
    unrestricted = plan_environment(deployment_branch_policy=None)
    github.routes[PLAN_PATH] = (200, unrestricted)

    assert gate.fetch("octo-org/infra", "infra-deploy-prod", token="t", api_url=github.url + "/") == (
        deploy_environment(),
        MAIN_ONLY,
    )
    assert gate.fetch("octo-org/infra", "infra-plan-prod", token="t", api_url=github.url) == (
        unrestricted,
        None,
    )
    assert [path for path, _ in github.requests] == [DEPLOY_PATH, POLICIES_PATH, PLAN_PATH]


def test_fetch_quotes_the_environment_name(github):
    quoted = "/repos/octo-org/infra/environments/infra%2Fplan"
    github.routes[quoted] = (200, plan_environment(name="infra/plan"))
    github.routes[f"{quoted}/deployment-branch-policies?per_page=100"] = (200, MAIN_ONLY_LISTED)

    environment, policies = gate.fetch("octo-org/infra", "infra/plan", token="t", api_url=github.url)

    assert (environment["name"], policies) == ("infra/plan", MAIN_ONLY)


def test_run_plan_passes(github, capsys):
    github.routes[PLAN_PATH] = (200, plan_environment())
    github.routes[PLAN_POLICIES_PATH] = (200, MAIN_ONLY_LISTED)

    assert run("--environment", "infra-plan-prod", "--purpose", "plan") == 0
    out, err = capsys.readouterr()
    assert out == (
        "GitHub environment infra-plan-prod: 2 required reviewers, self-review prevented, only branch main may enter, "
        "no admin bypass\n"
    )
    assert err == ""


def test_run_deploy_passes(github, capsys):
    github.routes[DEPLOY_PATH] = (200, deploy_environment())
    github.routes[POLICIES_PATH] = (200, MAIN_ONLY_LISTED)

    assert run("--environment", "infra-deploy-prod", "--purpose", "deploy") == 0
    assert capsys.readouterr() == (
        "GitHub environment infra-deploy-prod: only branch main may enter, no admin bypass\n",
        "",
    )


def test_run_prints_every_problem_and_fails(github, capsys):
    github.routes[PLAN_PATH] = (
        200,
        plan_environment(
            protection_rules=[WAIT_TIMER], deployment_branch_policy=None, can_admins_bypass=True
        ),
    )

    assert run("--environment", "infra-plan-prod", "--purpose", "plan") == 1
    assert capsys.readouterr() == (
        "",
        (
            f"error: GitHub environment infra-plan-prod: no required reviewers; {PLAN} > Required reviewers\n"
            f"error: {PLAN_EVERY_BRANCH}\n"
            f"error: {ADMIN_BYPASS}\n"
        ),
    )
    assert [path for path, _ in github.requests] == [PLAN_PATH]


def test_run_plan_fails_with_reviewers_but_no_branch_restriction(github, capsys):
    github.routes[PLAN_PATH] = (200, plan_environment(deployment_branch_policy=None))

    assert run("--environment", "infra-plan-prod", "--purpose", "plan") == 1
    assert capsys.readouterr() == ("", f"error: {PLAN_EVERY_BRANCH}\n")


def test_run_plan_fails_on_a_branch_rule_besides_main(github, capsys):
    policies = [branch_policy("main"), branch_policy("feature/*", policy_id=361472)]
    github.routes[PLAN_PATH] = (200, plan_environment())
    github.routes[PLAN_POLICIES_PATH] = (200, {"total_count": 2, "branch_policies": policies})

    assert run("--environment", "infra-plan-prod", "--purpose", "plan") == 1
    assert capsys.readouterr() == (
        "",
        (
            "error: GitHub environment infra-plan-prod: branch and tag rules [branch main, branch feature/*] "
            f"instead of exactly [branch main]; {PLAN_SELECT_MAIN}\n"
        ),
    )


def test_run_deploy_fails_on_an_extra_branch_rule(github, capsys):
    policies = [branch_policy("main"), branch_policy("v*", kind="tag", policy_id=361472)]
    github.routes[DEPLOY_PATH] = (200, deploy_environment())
    github.routes[POLICIES_PATH] = (200, {"total_count": 2, "branch_policies": policies})

    assert (
        run("--environment", "infra-deploy-prod", "--purpose", "deploy", "--repository", "octo-org/infra")
        == 1
    )
    assert capsys.readouterr().err == (
        "error: GitHub environment infra-deploy-prod: branch and tag rules [branch main, tag v*] instead of "
        f"exactly [branch main]; {SELECT_MAIN}\n"
    )


def test_run_reports_a_missing_environment(github, capsys):
    assert run("--environment", "infra-plan-prod", "--purpose", "plan") == 1
    assert capsys.readouterr() == (
        "",
        (
            "error: GitHub environment infra-plan-prod does not exist in octo-org/infra, and a job naming it "
            "would create it unprotected; Settings > Environments > New environment > infra-plan-prod\n"
        ),
    )


def test_run_names_the_permission_on_a_403(github, capsys):
    github.routes[PLAN_PATH] = (
        403,
        {
            "message": "Resource not accessible by integration",
            "documentation_url": "https://docs.github.com/rest/deployments/environments#get-an-environment",
            "status": "403",
        },
    )

    assert run("--environment", "infra-plan-prod", "--purpose", "plan") == 1
    assert capsys.readouterr() == (
        "",
        (
            "error: GitHub answered 403 (Resource not accessible by integration) to "
            f"GET {github.url}{PLAN_PATH}; the job needs `permissions: actions: read` "
            "for GITHUB_TOKEN to read environment infra-plan-prod\n"
        ),
    )


def test_run_reports_an_unreachable_api(github, monkeypatch, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("GITHUB_API_URL", closed)

    assert run("--environment", "infra-plan-prod", "--purpose", "plan") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: could not reach GitHub at {closed}{PLAN_PATH}: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "unset, line",
    [
        (
            "GITHUB_TOKEN",
            "error: GITHUB_TOKEN is not set; give the step env GITHUB_TOKEN: ${{ github.token }}\n",
        ),
        (
            "GITHUB_REPOSITORY",
            "error: no repository: pass --repository OWNER/REPO or set GITHUB_REPOSITORY\n",
        ),
    ],
)
def test_run_needs_a_token_and_a_repository(github, monkeypatch, capsys, unset, line):
    monkeypatch.delenv(unset)

    assert run("--environment", "infra-plan-prod", "--purpose", "plan") == 1
    assert capsys.readouterr() == ("", line)
    assert github.requests == []

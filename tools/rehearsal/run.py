"""The rehearsal of one configuration: ``homu-state`` and the chosen application stacks through init,
plan, apply, checks, a clean re-plan and destroy on one emulator, and the report of it."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from modules.names import DATA_STACK, FARGATE_STACK, REMOTE_STATE_STACKS, STACKS, STATE_STACK
from modules.settings import Settings
from tools.rehearsal import checks, least_privilege
from tools.rehearsal.emulator import Emulator
from tools.rehearsal.errors import CheckFailed, RehearsalError
from tools.rehearsal.settings import CONFIGS, prepare_account, rehearsal_settings, synthesize
from tools.rehearsal.terraform import (
    APPLIED,
    DESTROYED,
    TIMEOUTS,
    Run,
    Terraform,
    diagnostics,
    emulator_environment,
    plan_body,
    summary_line,
    terraform_cli_environment,
)
from tools.tfjson import Stack, read_stack

_COMMON = ["-input=false", "-no-color", "-lock-timeout=60s"]
# As tools/ci/plan.py plans: the plan role takes no lock (and may not write one).
_AS_CI_PLANS = ["-input=false", "-no-color", "-lock=false"]


@dataclass
class StackResult:
    name: str
    created: int = 0
    destroyed: int | None = None
    clean: bool | None = None
    seconds: float = 0.0
    checks: list[str] = field(default_factory=list)
    # (step, seconds, what it reported), in order
    steps: list[tuple[str, float, str]] = field(default_factory=list)


class Rehearsal:
    """One configuration, ``homu-state`` and the chosen application stacks, one emulator.

    ``run()`` returns the per-stack results or raises RehearsalError. ``transform(stack, config)``
    may change each synthesized stack before it is staged (the tests stage a deliberate perpetual
    diff with it).
    """

    def __init__(
        self,
        config: str = "default",
        *,
        stacks: tuple[str, ...] = STACKS,
        keep: bool = False,
        transform: Callable[[str, dict[str, Any]], None] | None = None,
        out: Callable[[str], None] = print,
    ) -> None:
        if config not in CONFIGS:
            raise ValueError(f"unknown configuration {config!r}; one of {', '.join(CONFIGS)}")
        chosen = set(stacks)
        # A compute needs the data tier; homu-state alone is a rehearsal of the bootstrap only.
        if (
            chosen - set(STACKS)
            or STATE_STACK not in chosen
            or (chosen - {STATE_STACK, DATA_STACK} and DATA_STACK not in chosen)
        ):
            raise ValueError(
                f"stacks must be among {', '.join(STACKS)} and include {STATE_STACK}, and {DATA_STACK} with a compute"
            )
        self.config, self.keep, self.out, self.transform = config, keep, out, transform
        self.stacks = tuple(s for s in STACKS if s in stacks)
        self.results: dict[str, StackResult] = {}
        self.dirty: list[RehearsalError] = []
        self.error: RehearsalError | None = None
        self.seconds = 0.0
        self.workdir: Path | None = None
        self.emulator_url = ""
        self._unprotected: dict[str, Path] | None = None
        self._finished = False
        # homu-state's GitHub plan role, when the configuration has one (github_repository), and what
        # its plan of each stack asked the emulator for
        self.plan_role: str | None = None
        self.plan_calls: dict[str, list] = {}

    @property
    def passed(self) -> bool:
        return self._finished and self.error is None and not self.dirty

    # --- orchestration ----------------------------------------------------------------------------

    def run(self) -> list[StackResult]:
        started = time.monotonic()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"homu-rehearsal-{self.config}-"))
        try:
            with Emulator(rehearsal_settings(self.config).region) as emulator:
                self.emulator, self.emulator_url = emulator, emulator.url
                self._progress("-", "emulator", f"moto on {emulator.url}", 0.0)
                self._rehearse(emulator)
        except RehearsalError as error:
            self.error = error
            raise
        finally:
            self.seconds = time.monotonic() - started
            self._summary()
            if self.keep:
                self.out(f"kept the work directory {self.workdir}")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
        if self.dirty:
            first = self.dirty[0]
            names = ", ".join(e.stack for e in self.dirty)
            self.error = RehearsalError(
                first.stack, "re-plan", f"the second plan was not empty for {names}", first.output
            )
            raise self.error
        return list(self.results.values())

    def _rehearse(self, emulator: Emulator) -> None:
        assert self.workdir is not None
        self.settings = rehearsal_settings(self.config, emulator.url)
        self.env = emulator_environment(terraform_cli_environment(self.workdir))
        self._timed("-", "prepare", lambda: "; ".join(prepare_account(emulator, self.settings)))
        directories: dict[str, Path] = {}

        def synth() -> str:
            directories.update(self._synthesize(self.settings, self.workdir / "cdktf.out"))
            return f"{self.config} configuration into {self.workdir}"

        self._timed("-", "synth", synth)
        state = Terraform(STATE_STACK, directories[STATE_STACK], self.env, emulator.errors)
        self.plan_role = self._deploy(state).outputs.get("github_plan_role_arn")
        if DATA_STACK in self.stacks:
            # S3-native locking is one mechanism for every stack on the backend: checked on the first.
            data_tf = Terraform(DATA_STACK, directories[DATA_STACK], self.env, emulator.errors)
            data = self._deploy(data_tf, lock_check=True)
            database = checks.database_identities(data)
            for name in self.stacks[2:]:
                stack = Terraform(name, directories[name], self.env, emulator.errors)
                applied = self._deploy(stack, producers={DATA_STACK: data.stack})
                self._teardown(applied)
                self._timed(
                    name, "check data tier kept", partial(checks.check_data_tier_kept, data, database)
                )
            if self.plan_role and set(self.plan_calls) == set(REMOTE_STATE_STACKS):
                check = partial(least_privilege.check_refresh_actions, self.plan_calls)
                self._timed(DATA_STACK, "check plan role's actions", check)
            self._teardown(data)
        self._destroy_state_stack(state)
        self._finished = True

    def _teardown(self, applied: checks.Applied) -> None:
        if self.settings.deletion_protection:
            self._unprotect(applied.tf)
        # After the unprotect (which must change nothing but the protection): CD's new image tag
        # makes Terraform's next apply build a task definition revision of its own, on purpose.
        if "github_deploy_role_arn" in applied.stack.outputs:
            self._timed(applied.tf.stack, "check deploy role", partial(self._deploy_as_role, applied))
        self._destroy(applied.tf)
        self._timed(applied.tf.stack, "check leftovers", partial(checks.check_leftovers, applied))
        if applied.stack.resources("aws_db_instance"):
            self._timed(
                applied.tf.stack,
                "check data after destroy",
                partial(checks.check_data_after_destroy, applied),
            )

    def _synthesize(self, settings: Settings, outdir: Path) -> dict[str, Path]:
        directories = synthesize(settings, outdir)
        if self.transform:
            for name in self.stacks:
                path = directories[name] / "cdk.tf.json"
                config = json.loads(path.read_text())
                self.transform(name, config)
                path.write_text(json.dumps(config, indent=2))
        return directories

    # --- steps ------------------------------------------------------------------------------------

    def _step(
        self, tf: Terraform, step: str, args: list[str], *, timeout: float | None = None, **kwargs: Any
    ) -> Run:
        try:
            run = tf.run(step, args, timeout=timeout or TIMEOUTS[step], **kwargs)
        except RehearsalError:
            self._progress(tf.stack, step, "FAILED", None)
            raise
        self._progress(tf.stack, step, summary_line(run.stdout) or "ok", run.seconds)
        return run

    def _timed(self, stack: str, step: str, action: Callable[[], str]) -> None:
        """A check or other step done here rather than by Terraform; any exception fails it by name."""
        clock = time.monotonic()
        try:
            detail = action()
        except RehearsalError:
            self._progress(stack, step, "FAILED", None)
            raise
        except CheckFailed as failed:
            self._progress(stack, step, "FAILED", None)
            raise RehearsalError(stack, step, failed.message, failed.output) from failed
        except Exception as error:  # a boto3 error fails the check too, named as such
            self._progress(stack, step, "FAILED", None)
            raise RehearsalError(stack, step, f"{type(error).__name__}: {error}") from error
        if step.startswith("check "):
            self.results[stack].checks.append(step.removeprefix("check "))
        self._progress(stack, step, detail, time.monotonic() - clock)

    def _deploy(
        self, tf: Terraform, *, lock_check: bool = False, producers: dict[str, Stack] | None = None
    ) -> checks.Applied:
        self.results[tf.stack] = StackResult(tf.stack)
        self._step(tf, "init", ["init", "-input=false", "-no-color"])
        self._step(tf, "plan", ["plan", *_COMMON, "-out=tfplan"])
        applied = self._step(tf, "apply", ["apply", *_COMMON, "tfplan"])
        match = APPLIED.search(applied.stdout)
        if not match:
            raise RehearsalError(
                tf.stack, "apply", "Terraform did not report 'Apply complete!'", diagnostics(applied)
            )
        self.results[tf.stack].created = int(match.group(1))
        # What was applied, as the checks compare it with the emulator.
        target = checks.Applied(
            tf, read_stack(tf.directory), self.emulator.client, int(match.group(1)), producers or {}
        )
        if tf.stack != STATE_STACK:
            for label, check in checks.checks_for(target.stack).items():
                self._timed(tf.stack, f"check {label}", partial(check, target))
            if lock_check:
                self._timed(tf.stack, "check lock", partial(checks.check_lock, target))
        self._replan(tf)
        if tf.stack != STATE_STACK:
            self._timed(tf.stack, "check plan scan", partial(checks.check_plan_scan, target))
            if self.plan_role:
                self._plan_as_role(tf)
        return target

    # --- least privilege, with IAM enforced -----------------------------------------------------------

    def _as_role(self, tf: Terraform, role_arn: str) -> Terraform:
        env = {**tf.env, **self.emulator.role_environment(role_arn)}
        return Terraform(tf.stack, tf.directory, env, self.emulator.errors)

    def _plan_as_role(self, tf: Terraform) -> None:
        """``terraform plan`` as the GitHub plan role finds nothing to change; on the data tier,
        copies of the role without one permission each are refused (the enforcement is on)."""
        assert self.plan_role is not None
        self.emulator.forget_calls()
        with self.emulator.iam_enforced():
            self._step(
                self._as_role(tf, self.plan_role),
                "plan as plan role",
                ["plan", *_AS_CI_PLANS, "-detailed-exitcode"],
                timeout=TIMEOUTS["re-plan"],
            )
        self.plan_calls[tf.stack] = self.emulator.calls(self.plan_role)
        if tf.stack == DATA_STACK:
            for removal in least_privilege.REMOVALS:
                self._timed(
                    tf.stack, f"plan refused {removal.label}", partial(self._refused_plan, tf, removal)
                )
            self._timed(tf.stack, "check plan role reads no data", self._data_reads_refused)

    def _data_reads_refused(self) -> str:
        assert self.plan_role is not None
        as_role = partial(self.emulator.client, credentials=self.emulator.role_environment(self.plan_role))
        with self.emulator.iam_enforced():
            return least_privilege.check_data_reads_refused(
                as_role,
                self.emulator.client,
                bucket=self.settings.state_bucket,
                environment=self.settings.environment,
            )

    def _refused_plan(self, tf: Terraform, removal: least_privilege.Removal) -> str:
        role = least_privilege.role_without(self.emulator.client, self.plan_role, removal)
        with self.emulator.iam_enforced():
            run = self._as_role(tf, role).run(
                "plan", ["plan", *_AS_CI_PLANS], timeout=TIMEOUTS["re-plan"], check=False
            )
        said = [line.strip() for line in run.output.splitlines() if removal.refusal in line]
        if run.returncode != 1 or not said:
            raise CheckFailed(f"the plan was not refused naming {removal.refusal}", diagnostics(run))
        return f"refused: {said[0].partition('api error ')[2] or said[0]}"

    def _deploy_as_role(self, applied: checks.Applied) -> str:
        """What backend CD calls, as this compute's deploy role; the other compute's role is refused."""
        role = applied.outputs["github_deploy_role_arn"]
        as_role = partial(self.emulator.client, credentials=self.emulator.role_environment(role))
        with self.emulator.iam_enforced():
            if applied.tf.stack == FARGATE_STACK:
                done = f"registered {least_privilege.fargate_deploy(as_role, applied.outputs, 'rehearsal')}"
                denied = least_privilege.refused(
                    lambda: least_privilege.ec2_deploy(
                        as_role, {"instance_id": "i-0", "deploy_document": self.settings.deploy_document}
                    )
                )
            else:
                done = f"ran command {least_privilege.ec2_deploy(as_role, applied.outputs)}"
                denied = least_privilege.refused(
                    lambda: as_role("ecs").update_service(
                        cluster=self.settings.cluster_name, service=self.settings.service_name
                    )
                )
        return f"{done}; the other option's deploy refused ({denied})"

    def _replan(self, tf: Terraform) -> None:
        run = self._step(tf, "re-plan", ["plan", *_COMMON, "-detailed-exitcode", "-out=replan"], ok=(0, 2))
        result = self.results[tf.stack]
        result.clean = run.returncode == 0
        if result.clean:
            return
        error = RehearsalError(
            tf.stack,
            "re-plan",
            f"the second plan is not empty ({summary_line(run.stdout)}): a perpetual diff",
            "\n".join(self._planned_changes(tf)) + "\n\n" + plan_body(run.stdout),
        )
        self.dirty.append(error)
        self.out(str(error))

    def _planned_changes(self, tf: Terraform) -> list[str]:
        """Each resource the re-plan would change, with the attributes that differ (``show -json``)."""
        run = tf.run(
            "re-plan", ["show", "-json", "-no-color", "replan"], timeout=TIMEOUTS["show"], check=False
        )
        if run.returncode != 0:
            return []
        changes = []
        for change in json.loads(run.stdout).get("resource_changes", []):
            actions = change["change"]["actions"]
            if actions in (["no-op"], ["read"]):
                continue
            before, after = change["change"].get("before") or {}, change["change"].get("after") or {}
            unknown = change["change"].get("after_unknown") or {}
            keys = sorted(
                k
                for k in set(before) | set(after) | set(unknown)
                if before.get(k) != after.get(k) or unknown.get(k) is True
            )
            changes.append(
                f"  {change['address']}: {'/'.join(actions)} ({', '.join(keys) or 'no attribute'})"
            )
        return changes

    def _unprotect(self, tf: Terraform) -> None:
        """What an operator does before tearing down a protected environment: apply the same
        configuration with ``deletion_protection = false``. It must change resources in place only;
        afterwards ``destroy`` can delete the database and the load balancer."""
        assert self.workdir is not None
        if self._unprotected is None:
            settings = rehearsal_settings(self.config, self.emulator.url, deletion_protection=False)
            self._unprotected = self._synthesize(settings, self.workdir / "unprotected")
        shutil.copy(self._unprotected[tf.stack] / "cdk.tf.json", tf.directory / "cdk.tf.json")
        run = self._step(tf, "unprotect", ["apply", *_COMMON, "-auto-approve"])
        match = APPLIED.search(run.stdout)
        if not match or match.group(1) != "0" or match.group(3) != "0":
            raise RehearsalError(
                tf.stack,
                "unprotect",
                "turning deletion protection off must change resources in place, not add or destroy any",
                plan_body(run.stdout),
            )

    def _destroy(self, tf: Terraform) -> None:
        result = self.results[tf.stack]
        run = self._step(tf, "destroy", ["destroy", *_COMMON, "-auto-approve"])
        match = DESTROYED.search(run.stdout)
        result.destroyed = int(match.group(1)) if match else None
        if result.destroyed != result.created:
            message = f"destroyed {result.destroyed} resources, the apply created {result.created}"
            raise RehearsalError(tf.stack, "destroy", message, diagnostics(run))

    def _destroy_state_stack(self, tf: Terraform) -> None:
        """The state bucket refuses ``destroy`` (``prevent_destroy``): first show that it does, then
        remove that lifecycle from this staged copy only, empty the bucket and destroy it.

        The emulator is discarded anyway. Destroying the bucket rehearses what an operator who really
        wants it gone would do, and the destroy count proves the other stacks left nothing in it but
        their state files.
        """
        step = "destroy (protected)"
        refused = tf.run(
            step,
            ["plan", "-destroy", "-input=false", "-no-color", "-refresh=false"],
            timeout=TIMEOUTS["plan"],
            check=False,
        )
        if refused.returncode == 0 or "Instance cannot be destroyed" not in refused.output:
            self._progress(tf.stack, step, "FAILED", None)
            message = "a plain destroy of the state bucket was not refused by prevent_destroy"
            raise RehearsalError(tf.stack, step, message, diagnostics(refused))
        self._progress(tf.stack, step, "refused by prevent_destroy, as designed", refused.seconds)
        path = tf.directory / "cdk.tf.json"
        config = json.loads(path.read_text())
        for body in config["resource"]["aws_s3_bucket"].values():
            body.get("lifecycle", {}).pop("prevent_destroy", None)
        path.write_text(json.dumps(config, indent=2))
        self._timed(tf.stack, "empty bucket", lambda: self._empty_bucket(self.settings.state_bucket))
        self._destroy(tf)

    def _empty_bucket(self, bucket: str) -> str:
        s3 = self.emulator.client("s3")
        keys = set()
        count = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
                keys.add(item["Key"])
                count += 1
        return f"{count} object versions of {', '.join(sorted(keys)) or 'nothing'}"

    # --- reporting --------------------------------------------------------------------------------

    def _progress(self, stack: str, step: str, detail: str, seconds: float | None) -> None:
        if stack in self.results and seconds is not None:
            result = self.results[stack]
            result.steps.append((step, round(seconds, 1), detail))
            result.seconds += seconds
        took = "" if seconds is None else f"{seconds:6.1f} s"
        self.out(f"[{self.config}] {stack:<12} {step:<25} {took:>8}  {detail}")

    def _summary(self) -> None:
        rows = [("stack", "created", "destroyed", "re-plan", "checks", "time")]
        for r in self.results.values():
            destroyed = "-" if r.destroyed is None else str(r.destroyed)
            replan = {True: "clean", False: "CHANGES", None: "-"}[r.clean]
            rows.append((r.name, str(r.created), destroyed, replan, str(len(r.checks)), f"{r.seconds:.1f} s"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        verdict = "passed" if self.passed else "FAILED"
        self.out("")
        self.out(f"rehearsal of the {self.config} configuration: {verdict} in {self.seconds:.1f} s")
        for row in rows:
            self.out("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())

    def report(self) -> dict[str, Any]:
        """Everything the summary says, as JSON-ready data (``--report``)."""
        error = self.error
        return {
            "config": self.config,
            "passed": self.passed,
            "seconds": round(self.seconds, 1),
            "stacks": [asdict(r) for r in self.results.values()],
            "error": None
            if error is None
            else {"stack": error.stack, "step": error.step, "message": error.message, "output": error.output},
        }

"""The cdktf CLI lane: docs/deploying.md as a user types it, against the served emulator.

    python -m tests.cli_lane REPORT

Copies the project (its git files, with the clone's ``.venv`` and ``node_modules``) into a temporary
directory, starts ``python -m tools.rehearsal --serve`` there, takes its ``export`` lines into the
environment, and runs ``COMMANDS`` one after another with ``python -m tools.cdktf`` (the documented entry
point; ``--auto-approve`` because nobody is at the prompt). Between the commands it looks at the
emulator with boto3: both computes serving on one database, the state lock released and the created
resources recorded after a Ctrl-C, the database untouched by a compute's destroy, the two environments'
local states apart. Writes every step (command, exit code, seconds, the lines that matter) and every
observation to REPORT as JSON; ``tests/test_rehearsal.py`` asserts on it. The emulator is stopped with
Ctrl-C (SIGINT) at the end, as a user would.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

from tools.rehearsal.emulator import emulator_client
from tools.rehearsal.serve import read_export

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = "environments/prod.json"
# What a user types (docs/deploying.md), in order; ``HOMU_SETTINGS_FILE=...`` prefixes one environment.
COMMANDS = {
    "state": "python -m tools.cdktf deploy homu-state",
    "data and fargate, interrupted": "python -m tools.cdktf deploy homu-data homu-fargate",
    "data and fargate": "python -m tools.cdktf deploy homu-data homu-fargate",
    "ec2 beside it": "python -m tools.cdktf deploy homu-data homu-ec2",
    "again, no changes": "python -m tools.cdktf deploy homu-data homu-fargate homu-ec2",
    "outputs": "python -m tools.cdktf output homu-fargate --outputs-file outputs.json",
    "destroy ec2": "python -m tools.cdktf destroy homu-ec2",
    "ec2, hung up": "python -m tools.cdktf deploy homu-data homu-ec2",
    "ec2, re-run": "python -m tools.cdktf deploy homu-data homu-ec2",
    "destroy fargate": "python -m tools.cdktf destroy homu-fargate",
    "destroy data while used": "python -m tools.cdktf destroy homu-data",
    "destroy data with the flag while used": (
        "python -m tools.cdktf destroy homu-data --ignore-missing-stack-dependencies"
    ),
    "production state": f"HOMU_SETTINGS_FILE={PRODUCTION} python -m tools.cdktf deploy homu-state",
    "production data plan": f"HOMU_SETTINGS_FILE={PRODUCTION} python -m tools.cdktf diff homu-data",
    "dev data plan": "python -m tools.cdktf diff homu-data",
}
STEP_TIMEOUT = 900
# Terraform colours its output; the report keeps the text.
COLOURS = re.compile(r"\x1b\[[0-9;]*m")
SUMMARY = re.compile(
    r"(Apply complete!.*|Destroy complete!.*|No changes\..*|Plan: .*|Error: .*|"
    r"The following .*|interrupt: .*|Interrupt received.*)"
)


class Lane:
    commands = COMMANDS
    serve_arguments: tuple[str, ...] = ()
    label = "cdktf-cli"

    def __init__(self, report: Path) -> None:
        self.report_path = report
        self.project = Path(tempfile.mkdtemp(prefix="homu-cli-lane-"))
        self.report: dict[str, Any] = {"steps": [], "observed": {}}
        self.serve: subprocess.Popen | None = None
        self.env: dict[str, str] = {}

    # --- set-up -------------------------------------------------------------------------------------

    def copy_project(self) -> None:
        files = (
            subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
            .stdout.decode()
            .split("\0")
        )
        for name in filter(None, files):
            if (ROOT / name).is_file():
                (self.project / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, self.project / name)
        for shared in (".venv", "node_modules"):
            (self.project / shared).symlink_to(ROOT / shared)

    def start_emulator(self) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("HOMU_", "TF_", "AWS_"))}
        base.pop("PYTHONUNBUFFERED", None)
        python = str(self.project / ".venv" / "bin" / "python")
        self.serve = subprocess.Popen(
            [python, "-m", "tools.rehearsal", "--serve", *self.serve_arguments],
            cwd=self.project,
            env=base,
            stdout=subprocess.PIPE,
            stderr=self.report_path.with_suffix(".emulator.log").open("w"),
            text=True,
            start_new_session=True,
        )
        exports = {}
        for line in self.serve.stdout:  # type: ignore[union-attr]
            if line.startswith("export "):
                name, value = read_export(line)
                exports[name] = value
            if "AWS_REGION" in exports:  # the last line serve prints
                break
        # A user's activated virtual environment: `python` is the project's.
        path = f"{self.project / '.venv' / 'bin'}:{base.get('PATH', '/usr/bin:/bin')}"
        self.env = {**base, **exports, "PATH": path, "CI": "1"}
        self.url = exports["HOMU_ENDPOINT_URL"]

    def client(self, service: str) -> Any:
        return emulator_client(service, self.url, self.env["AWS_REGION"])

    # --- steps --------------------------------------------------------------------------------------

    def run(
        self,
        step: str,
        *,
        interrupt_on: str | None = None,
        hang_up_on: str | None = None,
        whole_output: bool = False,
    ) -> dict[str, Any]:
        """Runs ``COMMANDS[step]`` as a shell would, with ``--auto-approve`` for deploy and destroy. With
        ``interrupt_on``, sends SIGINT to its process group (what Ctrl-C does) at the first output line
        containing that text. With ``hang_up_on``, runs it in a terminal of its own and closes that
        terminal at the first such line (an SSH session that drops). The report keeps the last 40 lines
        of the output, or all of them (``whole_output``)."""
        typed = self.commands[step]
        words = typed.split()
        env = dict(self.env)
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        if words[3:4] in (["deploy"], ["destroy"]):
            words.append("--auto-approve")
        started = time.monotonic()
        if hang_up_on:
            process, lines, interrupted_at = self._in_terminal(words, env, hang_up_on, started)
        else:
            process = subprocess.Popen(
                words,
                cwd=self.project,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            lines, interrupted_at = [], None
            for line in process.stdout:  # type: ignore[union-attr]
                lines.append(COLOURS.sub("", line).rstrip())
                if interrupt_on and interrupted_at is None and interrupt_on in line:
                    interrupted_at = time.monotonic() - started
                    os.killpg(process.pid, signal.SIGINT)
        try:
            code = process.wait(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = -9
        result = {
            "step": step,
            "typed": typed,
            "exit": code,
            "seconds": round(time.monotonic() - started, 1),
            "interrupted_at": interrupted_at,
            "summary": [m.group(1) for line in lines if (m := SUMMARY.search(line))],
            "tail": lines if whole_output else lines[-40:],
        }
        self.report["steps"].append(result)
        self.save()
        last = result["summary"][-1] if result["summary"] else ""
        print(f"[{self.label}] {step:<26} {result['seconds']:7.1f} s  exit {code}  {last}", flush=True)
        return result

    def _in_terminal(
        self, words: list[str], env: dict[str, str], hang_up_on: str, started: float
    ) -> tuple[subprocess.Popen, list[str], float | None]:
        """The command in a pseudo-terminal that is its controlling terminal; the terminal is closed
        (SIGHUP, and EIO on every write to it) at the first line containing ``hang_up_on``."""
        master, slave = os.openpty()
        process = subprocess.Popen(
            words,
            cwd=self.project,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # noqa: PLW1509 - no threads here
        )
        os.close(slave)
        shown = b""
        while hang_up_on.encode() not in shown and process.poll() is None:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    shown += os.read(master, 65536)
                except OSError:
                    break
        hung_up_at = time.monotonic() - started if hang_up_on.encode() in shown else None
        os.close(master)
        text = COLOURS.sub("", shown.decode(errors="replace"))
        return process, [line.rstrip() for line in re.split(r"[\r\n]+", text) if line.strip()], hung_up_at

    # --- observations -------------------------------------------------------------------------------

    def observe(self, name: str, value: Any) -> None:
        self.report["observed"][name] = value
        self.save()

    def database(self) -> list[list[str]]:
        instances = self.client("rds").describe_db_instances()["DBInstances"]
        return [[i["DBInstanceArn"], str(i["InstanceCreateTime"])] for i in instances]

    def data_tier_admits(self) -> list[str]:
        """The group names each data-tier group's ingress rules admit, per group."""
        ec2 = self.client("ec2")
        groups = ec2.describe_security_groups()["SecurityGroups"]
        names = {g["GroupId"]: g["GroupName"] for g in groups}
        rules = ec2.describe_security_group_rules()["SecurityGroupRules"]
        return sorted(
            f"{names[r['GroupId']]} <- {names.get(r['ReferencedGroupInfo']['GroupId'], '?')}"
            for r in rules
            if not r["IsEgress"]
            and r.get("ReferencedGroupInfo")
            and names[r["GroupId"]] in ("homu-db-sg", "homu-redis-sg")
        )

    def state(self, bucket: str, key: str) -> dict[str, Any]:
        s3 = self.client("s3")
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
        keys = [item["Key"] for item in listing]
        addresses = []
        if key in keys:
            state = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            addresses = sorted(
                f"{r['type']}.{r['name']}" for r in state["resources"] if r["mode"] == "managed"
            )
        return {"objects": keys, "resources": len(addresses), "addresses": addresses}

    def local_state(self, environment: str) -> str:
        path = self.project / f"terraform.homu-state.{environment}.tfstate"
        return path.read_text() if path.exists() else ""

    # --- the walk -----------------------------------------------------------------------------------

    def walk(self) -> None:
        self.run("state")
        # Ctrl-C while homu-data applies and homu-fargate, which depends on it, is still to come.
        self.run("data and fargate, interrupted", interrupt_on="Creating...")
        self.observe(
            "data state after the interruption",
            self.state("homu-terraform-state", "dev/homu-data/terraform.tfstate"),
        )
        self.observe(
            "fargate state after the interruption",
            self.state("homu-terraform-state", "dev/homu-fargate/terraform.tfstate"),
        )
        self.run("data and fargate")
        self.observe(
            "data state after the re-run",
            self.state("homu-terraform-state", "dev/homu-data/terraform.tfstate"),
        )
        self.run("ec2 beside it")
        self.observe("databases with both computes", self.database())
        self.observe("data tier admits with both computes", self.data_tier_admits())
        self.observe(
            "load balancers",
            [b["LoadBalancerName"] for b in self.client("elbv2").describe_load_balancers()["LoadBalancers"]],
        )
        self.run("again, no changes")
        self.run("outputs")
        outputs = self.project / "outputs.json"
        self.observe("outputs", json.loads(outputs.read_text()) if outputs.exists() else None)
        before = self.database()
        self.run("destroy ec2")
        self.run("ec2, hung up", hang_up_on="Creating...")
        self.observe(
            "ec2 state after the hang-up",
            self.state("homu-terraform-state", "dev/homu-ec2/terraform.tfstate"),
        )
        self.run("ec2, re-run")
        self.observe(
            "ec2 state after the re-run", self.state("homu-terraform-state", "dev/homu-ec2/terraform.tfstate")
        )
        self.run("destroy fargate")
        self.observe("database before and after", {"before": before, "after": self.database()})
        self.observe("data tier admits after destroying fargate", self.data_tier_admits())
        self.run("destroy data while used")
        self.run("destroy data with the flag while used")
        self.observe("databases after the refused destroy", self.database())
        dev_state = self.local_state("dev")
        self.run("production state")
        self.run("production data plan")
        self.observe("dev local state unchanged", self.local_state("dev") == dev_state)
        self.observe("production local state", bool(self.local_state("prod")))
        self.observe("state buckets", sorted(b["Name"] for b in self.client("s3").list_buckets()["Buckets"]))
        self.run("dev data plan")

    def stop_emulator(self) -> None:
        if self.serve is not None:
            os.killpg(self.serve.pid, signal.SIGINT)  # Ctrl-C
            try:
                self.observe("emulator exit after Ctrl-C", self.serve.wait(timeout=60))
            except subprocess.TimeoutExpired:
                os.killpg(self.serve.pid, signal.SIGKILL)
                self.observe("emulator exit after Ctrl-C", None)

    def save(self) -> None:
        self.report_path.write_text(json.dumps(self.report, indent=1))


def main(report: Path, lane_class: type[Lane] = Lane) -> None:
    lane = lane_class(report)
    # Stopped like a rehearsal: whatever runs is stopped and the copy removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        lane.copy_project()
        lane.start_emulator()
        lane.walk()
    except Exception as error:  # noqa: BLE001 (the report says where the walk stopped)
        lane.observe("error", f"{type(error).__name__}: {error}")
    finally:
        lane.stop_emulator()
        shutil.rmtree(lane.project, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.cli_lane REPORT")
    main(Path(sys.argv[1]))

"""Benchmark `python main.py` (all stacks, default settings): wall time and peak memory.

Runs the app the project's way (lazy provider loading) and the ordinary way (importing the
``cdktf_cdktf_provider_aws`` package root first, as generated code does), N times each, and prints
the median, min and max. Memory is the peak of the summed RSS of the whole process tree (Python and
the jsii node runtime), sampled every 10 ms.

    python -m tools.bench [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAYS = {
    "lazy (this project)": [sys.executable, str(ROOT / "main.py")],
    "ordinary import": [
        sys.executable,
        "-c",
        "import sys, cdktf_cdktf_provider_aws, main; sys.exit(main.main())",
    ],
}
TARGET_SECONDS, TARGET_MIB = 5.0, 900


def tree_rss_kib(pid: int) -> int:
    """Summed VmRSS of a process and all its descendants, from /proc."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return total


def run_once(command: list[str]) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMU_") and k != "NODE_OPTIONS"}
    # The app runs in an empty directory (its output goes there), so `import main` needs the checkout.
    env["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss_kib(process.pid))
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        if process.returncode != 0:
            sys.exit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()}")
        if not (Path(workdir) / "cdktf.out" / "stacks" / "homu-fargate" / "cdk.tf.json").exists():
            sys.exit("the run produced no homu-fargate stack")
    return elapsed, peak / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    run_once(WAYS["lazy (this project)"])  # warm jsii's package cache and the OS page cache once
    print(f"python main.py, all stacks, default settings, {args.runs} runs each, {os.cpu_count()} cores")
    print(f"{'way':<22}{'median s':>10}{'min s':>8}{'max s':>8}{'peak MiB':>10}")
    medians = {}
    for way, command in WAYS.items():
        results = [run_once(command) for _ in range(args.runs)]
        seconds, mib = [r[0] for r in results], [r[1] for r in results]
        medians[way] = (statistics.median(seconds), statistics.median(mib))
        print(
            f"{way:<22}{medians[way][0]:>10.2f}{min(seconds):>8.2f}{max(seconds):>8.2f}{medians[way][1]:>10.0f}"
        )
    seconds, mib = medians["lazy (this project)"]
    met = seconds <= TARGET_SECONDS and mib <= TARGET_MIB
    ordinary = medians["ordinary import"][0]
    print(
        f"speed-up {ordinary / seconds:.1f}x; target <= {TARGET_SECONDS:.0f} s and <= {TARGET_MIB} MiB: "
        f"{'met' if met else 'MISSED'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""The test suite several times in a row: its wall time, CPU share, and any stalled cell.

    python benchmarks/suite_runs.py --runs 5              # make test, then the fast site build
    python benchmarks/suite_runs.py --runs 5 --notebooks  # only the notebook part of the suite

Each run is ``make test`` (lint, unit tests, nbmake, the exercise-solution and notebook-output
tests; ``--nbmake-timeout=120`` and the runner's 120 s per cell in fast mode) followed by
``site/build.py --fast`` (every notebook once more, with its widget galleries). A cell over
120 s times its test out (rerun once, counted in pytest's summary as "rerun"); a notebook still
running after ~105 s leaves a ``NotebookStallWarning`` with its kernel's stacks, counted in
the "stalled cells" column. Prints one row per run and the pytest summary line, a Markdown
table for ``benchmarks/results/``; run it from a warm
``.venv`` with nothing else running (the times are the machine's, not asserted anywhere).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).parent.parent
PYTHON = REPO / ".venv" / "bin" / "python"
NOTEBOOK_PART = [
    "-m",
    "pytest",
    "-n",
    "2",
    "--nbmake",
    "--nbmake-timeout=120",
    "--reruns",
    "1",
    "--only-rerun",
    "timed out while it was being executed",
    "notebooks",
    "tests/test_notebook_outputs.py",
]
SUMMARY = re.compile(r"^=+ (.* in [\d.]+s.*) =+$", re.M)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """(wall s, CPU % of one core, exit code, output) of ``command`` run in the repository."""
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, 100 * cpu / wall, done.returncode, done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--notebooks", action="store_true", help="only the notebook part")
    args = parser.parse_args()
    env = {**os.environ, "HJEPA_FAST": "1", "OMP_NUM_THREADS": "1"}
    suite = (
        [str(PYTHON), *NOTEBOOK_PART]
        if args.notebooks
        else ["make", "--no-print-directory", "test"]
    )
    site = [str(PYTHON), "site/build.py", "--fast"]
    # the site's packages (Sphinx, MyST-NB) install on first use, before anything is timed
    subprocess.run(["make", "--no-print-directory", ".venv/.site-installed"], cwd=REPO, check=True)
    rows = []
    for run in range(1, args.runs + 1):
        wall, cpu, code, out = timed(suite, env)
        found = SUMMARY.findall(out)
        summary = found[-1] if found else out.strip().splitlines()[-1]
        site_wall, _, site_code, site_out = timed(site, env)
        # every cell that ran for minutes leaves a NotebookStallWarning with its stacks
        stalls = (out + site_out).count("NotebookStallWarning: ")
        rows.append((run, wall, cpu, code, summary, stalls, site_wall, site_code))
        print(
            f"run {run}: suite {wall:.0f} s ({cpu:.0f} % CPU, exit {code}: {summary}), "
            f"stalls {stalls}, site build {site_wall:.0f} s (exit {site_code})",
            flush=True,
        )
        if code or site_code:
            print(out[-4000:] if code else site_out[-4000:], file=sys.stderr)
    print(
        f"\n`python benchmarks/suite_runs.py --runs {args.runs}"
        f"{' --notebooks' if args.notebooks else ''}`\n"
    )
    print(
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, "
        f"{os.cpu_count()} cores, {' '.join(suite[-3:]) if args.notebooks else 'make test'}\n"
    )
    print(
        "| run | suite (s) | CPU (% of one core) | exit | pytest summary | stalled cells "
        "| site build --fast (s) | exit |"
    )
    print("|---:|---:|---:|---:|---|---:|---:|---:|")
    for run, wall, cpu, code, summary, stalls, site_wall, site_code in rows:
        print(
            f"| {run} | {wall:.0f} | {cpu:.0f} | {code} | {summary} | {stalls} "
            f"| {site_wall:.0f} | {site_code} |"
        )


if __name__ == "__main__":
    main()

"""Hostile input, the long run: the figures of RELIABILITY.md's "Hostile input" section.

Runs the hostile-input tests with many more examples than the test suite does - the API fuzzed from its
own /api document through the WSGI app (anonymous and a key of each role) and through gunicorn, the
importers fuzzed with generated GeoJSON, CSV and damaged GeoPackages, the malformed-file corpus and the
hostile URLs - and prints what was tried and what happened. Any failure is a bug: the run says so.

    python bench/hostile.py                 # 100 examples per operation / file kind (about 15 minutes)
    python bench/hostile.py --examples 20   # quicker

This measures no speed, so it has no comparison anchor; it counts inputs and outcomes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/test_hostile_api.py", "tests/test_hostile_import.py", "tests/test_hostile_files.py",
         "tests/test_hostile_urls.py", "tests/test_access_control.py"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=100, help="examples per fuzzed operation and file kind")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "figures.jsonl"
        env = {**os.environ, "RALLYPOINT_FUZZ_EXAMPLES": str(args.examples), "RALLYPOINT_FUZZ_REPORT": str(report),
               "QT_QPA_PLATFORM": "offscreen"}
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore",
                               *TESTS], cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        lines = [json.loads(x) for x in report.read_text().splitlines()] if report.exists() else []
    print(f"hostile input, {args.examples} examples per fuzzed case, {seconds:.0f} s")
    for fig in lines:
        what = fig.pop("what")
        print(f"\n{what}")
        for k, v in fig.items():
            print(f"  {k}: {v}")
    print("\n" + proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "")
    if proc.returncode:
        print(proc.stdout[-6000:], proc.stderr[-2000:])
        print("FAILED: a hostile input found a bug (see above)")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())

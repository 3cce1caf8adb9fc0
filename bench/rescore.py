"""Rescore end to end: ``tasks.rescore.run_rescore`` on the synthetic store, in its own process.

Database -> RFM re-bin, fit, score, segments -> written profiles and memberships ->
queued tag diffs. Run ``python -m bench.rescore STORE_ID [AS_OF]``: prints one JSON line with
the seconds, the process's RSS before the call and its peak RSS (``VmHWM``) after, and the
task's counts (customers, changed, rows written per table).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime

from bench.stack import ROOT, bench_env


def _status_mib(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(store_id: int, as_of: str | None = None) -> dict:
    """Run one rescore in a fresh process (as of now, or the ISO time given); its figures."""
    out = subprocess.run([sys.executable, "-m", "bench.rescore", str(store_id),
                          *([as_of] if as_of else [])], env=bench_env(),
                         cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def check_facts(store_id: int) -> dict:
    """Run the nightly customer facts check of the store in a fresh process; its figures."""
    out = subprocess.run([sys.executable, "-m", "bench.rescore", "facts", str(store_id)],
                         env=bench_env(), cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from bench.stack import make_app
    from tasks.rescore import check_store_facts, run_rescore

    app = make_app()
    with app.app_context():
        before = _status_mib("VmRSS")
        began = time.perf_counter()
        if sys.argv[1] == "facts":
            counts = {"rebuilt": check_store_facts(int(sys.argv[2]))}
        else:
            as_of = datetime.fromisoformat(sys.argv[2]) if len(sys.argv) > 2 else None
            counts = run_rescore(int(sys.argv[1]), as_of)
        seconds = time.perf_counter() - began
    # VmHWM, not ru_maxrss: Linux carries the parent's high-water mark into ru_maxrss across
    # fork and exec, so a parent that generated the store inflated it.
    peak = _status_mib("VmHWM")
    print(json.dumps({"seconds": round(seconds, 3), "rss_before_mib": round(before, 1),
                      "peak_rss_mib": round(peak, 1), **counts}))


if __name__ == "__main__":
    main()

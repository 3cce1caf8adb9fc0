"""The full run's ingest phase alone, for a change to the webhook path: ``python -m
bench.ingest_only [ROUNDS] [SECONDS]`` (bench/.venv).

Bare Flask and the signed webhook at ``wrk -c16``, rounds interleaved as in ``bench.run``
(the duplicate and ``-c4`` rows left out); prints requests/s, p50, p99 and CPU milliseconds per
answer, the median and every round (nothing is written). Three 10-second rounds take about a
minute.
"""

from __future__ import annotations

import json
import sys

from bench import ingest

KINDS = {kind: ingest.KINDS[kind] for kind in ("bare", "webhook")}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    result = ingest.measure(rounds, seconds, KINDS)
    share = result["webhook"]["rps"] / result["bare"]["rps"]
    print(json.dumps({
        "webhook_share_of_bare": round(share, 3),
        **{kind: {"rps": round(result[kind]["rps"]), "p50_ms": result[kind]["p50_ms"],
                  "p99_ms": result[kind]["p99_ms"],
                  "cpu_ms": {k: round(v, 3) for k, v in result[kind]["cpu_ms"].items()},
                  "rounds_rps": [round(r["rps"]) for r in result[kind]["rounds"]]}
           for kind in KINDS}}, indent=1))


if __name__ == "__main__":
    main()

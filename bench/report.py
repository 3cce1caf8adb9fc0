"""Turn bench/run.py's results into REPORT.md: one table a merchant can read, then the details.

The profile findings (what bounds each missed target) are hand-written in bench/FINDINGS.md
and appended as they are.
"""

from __future__ import annotations

from pathlib import Path

FINDINGS = Path(__file__).parent / "FINDINGS.md"


def _n(value, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _row(what, figure, baseline, ratio, target, met, how_far="") -> str:
    verdict = "—" if met is None else ("**met**" if met else "**not met**")
    return f"| {what} | {figure} | {baseline} | {ratio} | {target} | {verdict} {how_far} |"


def rows(r: dict) -> list[str]:
    """The summary table's rows."""
    out = []
    bare = r["ingest"]["bare"]
    conns = r["ingest"]["connections"]
    for kind, label in (("webhook", "distinct ids"), ("webhook_dup30", "30% duplicates")):
        hook = r["ingest"][kind]
        share = hook["rps"] / bare["rps"]
        # Each round's webhook against the bare round beside it: the bar holds only if every
        # round's share does (bare Flask's rounds were bimodal before wrk re-opened its
        # connections: bench/FINDINGS.md).
        shares = [h["rps"] / b["rps"] for h, b in zip(hook["rounds"], bare["rounds"],
                                                      strict=True)]
        out.append(_row(f"Webhook ingest, requests/s ({label}, `wrk -c{conns}`)",
                        _n(hook["rps"]), f"{_n(bare['rps'])} bare Flask", f"{share:.0%}",
                        "≥ 25% of bare (goal 50%) in every round", min(shares) >= 0.25,
                        "(rounds: " + " / ".join(f"{s:.0%}" for s in shares) + ")"))
        out.append(_row(f"Webhook ingest p50 / p99 ms ({label}, `wrk -c{conns}`)",
                        f"{_n(hook['p50_ms'], 1)} / {_n(hook['p99_ms'], 1)}",
                        f"{_n(bare['p50_ms'], 1)} / {_n(bare['p99_ms'], 1)} bare",
                        f"{hook['p99_ms'] / bare['p99_ms']:.1f}× (p99)",
                        "p99 < 25 ms (goal 10 ms)", hook["p99_ms"] < 25,
                        f"({hook['p99_ms'] / 25:.1f}× the limit)"))
    if "webhook_c4" in r["ingest"]:
        hook, bare_c4 = r["ingest"]["webhook_c4"], r["ingest"]["bare_c4"]
        out.append(_row("Webhook ingest, requests/s and p99 ms (distinct ids, `wrk -c4`, the "
                        "earlier setting)", f"{_n(hook['rps'])} / {_n(hook['p99_ms'], 1)}",
                        f"{_n(bare_c4['rps'])} / {_n(bare_c4['p99_ms'], 1)} bare Flask",
                        f"{hook['rps'] / bare_c4['rps']:.0%}", "—", None))
    if "cpu_ms" in r["ingest"]["webhook"]:
        cpu, bare_cpu = r["ingest"]["webhook"]["cpu_ms"], bare["cpu_ms"]
        out.append(_row("CPU ms per accepted webhook: web + PostgreSQL + Redis processes "
                        f"(`wrk -c{conns}`, distinct ids)",
                        f"{cpu['total']:.2f} ({cpu['web']:.2f} + {cpu['postgres']:.2f} + "
                        f"{cpu['redis']:.2f})", f"{bare_cpu['total']:.2f} per bare request",
                        f"{cpu['total'] / bare_cpu['total']:.1f}×", "reported", None))
    if "broker_down" in r:
        down = r["broker_down"]
        whole = down["rows_committed"] == down["sent"] and down["statuses"] == [200]
        out.append(_row("Webhook answer with the broker and Redis down, p50 / max ms",
                        f"{_n(down['p50_ms'], 1)} / {_n(down['max_ms'], 1)}",
                        f"{down['rows_committed']:,} of {down['sent']:,} rows committed", "—",
                        "< 100 ms, 200, row committed", whole and down["max_ms"] < 100,
                        f"(max {down['max_ms'] / 100:.2f}× the limit)"))
    if "embedded" in r:
        emb = r["embedded"]
        out.append(_row("Embedded default (`tagwise run`), webhooks/s accepted from 8 senders "
                        "while the worker drains", _n(emb["accepted_per_s"]),
                        f"{emb['rows_committed']:,} of {emb['accepted']:,} rows committed, "
                        f"{emb.get('rows_processed', 0):,} processed by the worker "
                        "while they were sent "
                        f"({_n(emb.get('processed_per_s'))}/s), then "
                        f"{_n(emb.get('drain_per_s'))}/s drained once they stopped, "
                        f"{emb['not_accepted']} not accepted", "—", "≥ 300 webhooks/s",
                        # the worker must have drained during the sending, not only after
                        emb["accepted_per_s"] >= 300 and emb["not_accepted"] == 0
                        and emb.get("rows_processed", 0) > 0,
                        f"({emb['accepted_per_s'] / 300:.2f}× the bar)"))
    tp = r["pipeline"]["throughput"]
    out.append(_row("Pipeline orders/s (inbox row → profile + segments + queued tag diff)",
                    _n(tp["orders_per_s"], 1),
                    f"{_n(r['ingest']['webhook']['rps'])} webhook ingest req/s",
                    f"{tp['orders_per_s'] / r['ingest']['webhook']['rps']:.2f}×",
                    "≥ 1,000 on 2 cores", tp["orders_per_s"] >= 1000,
                    f"({tp['orders_per_s'] / 1000:.1%} of it)"))
    if "cpu_ms_per_order" in tp:
        cpu = tp["cpu_ms_per_order"]
        out.append(_row("CPU ms per processed order (worker + PostgreSQL backends + Redis)",
                        _n(cpu["total"], 2),
                        f"worker {_n(cpu['worker'], 2)}, PostgreSQL {_n(cpu['postgresql'], 2)}"
                        f", Redis {_n(cpu['redis'], 2)}", "—", "reported", None))
    lat = r["pipeline"]["latency"]
    if lat["p99_s"] is not None:
        out.append(_row(f"Webhook → tag write at the shop, p50 / p99 s "
                        f"({lat['offered_rate']:.0f} orders/s offered for "
                        f"{lat['orders'] / lat['offered_rate']:.0f} s)",
                        f"{lat['p50_s']:.2f} / {lat['p99_s']:.2f}", "2.0 s sync debounce", "—",
                        "p99 < 5 s at 300 orders/s for 60 s",
                        lat["p99_s"] < 5 and lat["offered_rate"] >= 300
                        and lat["orders"] >= 300 * 60,
                        f"(p99 {lat['p99_s'] / 5:.1f}× the limit; sent at "
                        f"{lat['achieved_send_rate']:.0f}/s)"))
    if "burst" in r["pipeline"]:
        b = r["pipeline"]["burst"]
        small = "—" if b["small_p99_s"] is None else f"{b['small_p99_s']:.2f}"
        met = (b["stores"] >= 20 and b["deliveries"] >= 30_000  # the burst, not QUICK's
               and b["answered_200"] == b["deliveries"] and b["lost"] == 0
               and b["all_processed_after_s"] <= 120 and b["small_p99_s"] is not None
               and b["small_p99_s"] < 10)
        out.append(_row(f"Burst: {b['stores']} stores, {b['deliveries']:,} webhooks offered "
                        f"within {b['offered_seconds']:.0f} s, one store half: answered 200 / "
                        "lost / all processed after the burst, s / small stores' p99 "
                        "webhook → tag, s",
                        f"{b['answered_200_share']:.1%} / {b['lost']} / "
                        f"{b['all_processed_after_s']:.1f} / {small}",
                        f"sent in {b['send_seconds']:.1f} s", "—",
                        "100% / 0 / ≤ 120 / < 10", met,
                        f"({b['small_store_tagged']:,} small-store customers tagged)"))
    rs = r["rescore"]
    core = r["predict"]["ours"]["seconds_median"]
    core_total = sum(core.values())
    out.append(_row(f"Rescore end to end, s ({r['store']['rows']['customers']:,} customers / "
                    f"{r['store']['rows']['orders']:,} orders)", _n(rs["seconds_median"], 1),
                    f"{core_total:.2f} s in-memory model core",
                    f"{rs['seconds_median'] / core_total:.0f}×",
                    "< 30 s", rs["seconds_median"] < 30,
                    f"({rs['seconds_median'] / 30:.1f}× the limit)"))
    first = rs["first"]
    out.append(_row("Rescore end to end, first of the store (no profiles yet), s",
                    _n(first["seconds"], 1), f"{core_total:.2f} s in-memory model core",
                    f"{first['seconds'] / core_total:.0f}×", "< 45 s", first["seconds"] < 45,
                    f"({first['seconds'] / 45:.1f}× the limit)"))
    peak = rs["peak_rss_mib_median"]
    out.append(_row("Rescore peak memory, MiB (process RSS)", _n(peak),
                    f"{_n(rs['rounds'][0]['rss_before_mib'])} before the call", "—",
                    "< 800 MiB", peak < 800, f"({peak / 800:.0%} of the limit)"))
    if "no_change" in rs:
        quiet = rs["no_change"]
        written = quiet["rows_written_profiles"] + quiet["rows_written_memberships"]
        out.append(_row("Rows written by a rescore that changed nothing (profiles + "
                        "memberships; store-level rows apart)", _n(written),
                        f"{_n(quiet['customers'])} profiles compared", "—",
                        "≤ changed rows + store-level rows", written == 0,
                        f"({quiet['rows_written_store_reports']} store reports rewritten)"))
    if "facts_check" in r:
        check = r["facts_check"]
        out.append(_row("Nightly customer facts check (the live path's inputs rebuilt from the "
                        "history and compared), s / peak MiB", f"{check['seconds']} / "
                        f"{_n(check['peak_rss_mib'])}", f"{_n(check['rebuilt'])} rows rebuilt",
                        "—", "reported", None))
    if "rescore_scale" in r:
        big = r["rescore_scale"]
        size = f"{big['rows']['customers']:,} customers / {big['rows']['orders']:,} orders"
        for kind in ("first", "nightly"):
            run = big[kind]
            seconds, peak = run["seconds"], run["peak_rss_mib"]
            out.append(_row(f"Rescore at scale, {size}, {kind}: s / peak MiB",
                            f"{_n(seconds, 1)} / {_n(peak)}",
                            f"store drawn in {_n(big['generate_seconds'])} s, "
                            f"COPY-loaded in {_n(big['copy_seconds'])} s", "—",
                            "< 300 s, < 4,096 MiB", seconds < 300 and peak < 4096,
                            f"({seconds / 300:.0%} of the time, {peak / 4096:.0%} of the "
                            "memory)"))
    if "fan_out" in r:
        fan = r["fan_out"]
        night = fan["rounds"][-1]
        out.append(_row(f"Nightly fan-out, {fan['stores']} stores × ~"
                        f"{_n(fan['customers_per_store_mean'])} customers, 1 worker × 2 "
                        "processes, wall s", _n(night["wall_seconds"], 1),
                        f"{_n(night['task_seconds_sum'], 1)} s summed over the stores",
                        f"{night['task_seconds_sum'] / night['wall_seconds']:.1f}× overlap",
                        "reported", None,
                        f"(largest single store {_n(night['task_seconds_max'], 1)} s)"))
    theirs = r["predict"]["lifetimes"].get("seconds_median", {})
    if theirs:
        theirs_total = sum(theirs.values())
        out.append(_row(f"Model core (summaries + fits + scoring), s, "
                        f"{r['predict']['n_customers']:,} customers", f"{core_total:.2f}",
                        f"{theirs_total:.2f} lifetimes", f"{theirs_total / core_total:.1f}× faster",
                        "at least as fast", core_total <= theirs_total))
    targets = r["predict"]["targets"]
    same = targets["BG/NBD and Gamma-Gamma parameters equal to 3 significant digits"]
    out.append(_row("Model parameters equal to lifetimes' (3 significant digits)",
                    "yes" if same else "no", "lifetimes", "—", "equal", same))
    for s in r["sync"]:
        ratio = s["requests"] / s["bulk_minimum"]
        out.append(_row(f"Sync {s['customers']:,} changed customers → {s['destination']}, "
                        f"requests ({s['seconds']} s)", _n(s["requests"]),
                        f"{_n(s['naive_requests'])} naive",
                        f"{s['naive_requests'] / s['requests']:.0f}× fewer",
                        f"≤ 110% of bulk minimum {s['bulk_minimum']}", ratio <= 1.1,
                        f"({ratio:.0%} of minimum)"))
    for s in (row for row in r.get("sync_throttle", []) if row["governed"]):
        before = next(row for row in r["sync_throttle"]
                      if row["destination"] == s["destination"] and not row["governed"])
        out.append(_row(f"429 answers per 10,000 changes → {s['destination']} "
                        f"({s['workers']} workers at once, rate governor)",
                        _n(s["throttled_per_10k"], 1),
                        f"{_n(before['throttled_per_10k'], 1)} without governor",
                        f"{s['delivered']:,} of {s['changes']:,} delivered", "rare (< 1)",
                        s["throttled_per_10k"] < 1 and s["delivered"] == s["changes"]))
    stream = r.get("sync_stream", [])
    for s in (row for row in stream if row["policy"] == "adaptive"):
        same = {row["policy"]: row for row in stream if row["destination"] == s["destination"]}
        fixed, batch = same["fixed"], same["one batch"]
        out.append(_row(f"Sync requests per 1,000 changes streamed over {s['seconds']:g} s → "
                        f"{s['destination']} (adaptive debounce; p99 latency "
                        f"{s['latency_p99_s']} s)", _n(s["requests_per_1000"], 1),
                        f"{_n(fixed['requests_per_1000'], 1)} fixed 2 s debounce, "
                        f"{_n(batch['requests_per_1000'], 1)} one batch",
                        f"{fixed['requests_per_1000'] / max(s['requests_per_1000'], 0.1):.1f}×"
                        " fewer", "≤ fixed (+10%)", s["requests"] <= fixed["requests"] * 1.1))
    fp = r["footprint"]
    out.append(_row("SQL bytes per order (orders + line items + refunds, with indexes)",
                    _n(fp["sql_bytes_per_order"]),
                    f"{fp['line_items'] / fp['orders']:.2f} lines per order", "—", "—", None))
    return out


def write_report(r: dict, path: Path) -> None:
    """REPORT.md from one run's results."""
    m = r["machine"]
    store = r["store"]["rows"]
    tp, lat = r["pipeline"]["throughput"], r["pipeline"]["latency"]
    lines = [
        "# Tagwise benchmark" + (" (QUICK smoke run: small store, single rounds)" if r["quick"]
                                 else ""),
        "",
        f"Generated by `make bench{' QUICK=1' if r['quick'] else ''}` on {m['date']} in "
        f"{r['run_seconds'] / 60:.1f} min, commit `{m['commit']}` ({m['commit_subject']}).",
        "",
        f"Machine: {m['host']}, {m['cpu_count']} CPUs ({m['cpu']}); Python {m['python']}, "
        f"PostgreSQL {m['postgresql']}, Redis {m['redis']}, gunicorn {m['gunicorn']}, "
        f"Celery {m['celery']}. Load average at start {m['load_average_at_start']}, at end "
        f"{m['load_average_at_end']}: the machine was shared with other jobs, so absolute "
        "figures are noisy; each row's baseline was measured in the same run.",
        "",
        "| measurement | figure | baseline (same run) | ratio | target | met? |",
        "|---|---:|---:|---:|---|---|",
        *rows(r),
        "",
        "## How each figure was taken",
        "",
        f"- **Ingest**: gunicorn as in the Procfile (2 workers × 4 threads, `--no-control-socket`) "
        f"serving `app.wsgi:app` and, beside it, `bench/bare_app.py` (a route that reads the "
        f"body and returns 200); `wrk -t1 -c{r['ingest']['connections']}` with "
        f"`bench/webhook.lua` for {r['ingest']['seconds_per_round']} s per round, each "
        f"connection re-opened about every {r['ingest'].get('reconnect_every', 0)} requests "
        "(`Connection: close`) so the connections keep spreading over both workers, "
        f"{r['config']['ingest_rounds']} interleaved rounds, medians shown. The body is "
        "tests/connectors/shopify/fixtures/orders_create__sample.json signed with the store's "
        "secret; every "
        "request has its own X-Shopify-Webhook-Id (the 30% row repeats earlier ones). Each "
        "round checks the inbox holds one row per distinct id. Socket errors (timeouts past "
        f"10 s): {r['ingest']['webhook']['socket_errors']} / "
        f"{r['ingest']['webhook_dup30']['socket_errors']}. CPU ms per request: user + system "
        "time from /proc of the serving gunicorn (master and workers), of every PostgreSQL "
        "server process (with the time of backends that exited) and of redis-server over "
        "each wrk window, divided by the requests answered; both servers are whole, so on a "
        "shared machine other clients' work would count too. The `-c4` row repeats the "
        "earlier setting (bare route and webhook, same rounds).",
        f"- **Store**: {store['customers']:,} customers, {store['orders']:,} orders, "
        f"{store['line_items']:,} line items, {store['refunds']:,} refunds from "
        "bench/synthetic.py (BG/NBD + Gamma-Gamma, guests, baskets, product types, discounts, "
        f"refunds), COPY-loaded and its customer facts built in {r['store']['copy_seconds']} s.",
        f"- **Rescore**: `tasks.rescore.run_rescore` in a fresh process per round "
        f"(bench/rescore.py); the first round (no profiles yet) took "
        f"{r['rescore']['first']['seconds']} s and changed "
        f"{r['rescore']['first']['changed']:,} customers; the table shows the median of "
        f"{len(r['rescore']['rounds'])} later (nightly-like) round(s) "
        f"({', '.join(str(x['seconds']) for x in r['rescore']['rounds'])} s); the no-change "
        "round repeats the last round's as-of, so nothing but store-level rows may change.",
        *([f"- **Rescore at scale**: bench/rescore_scale.py's `big_store` at the end of the "
           "full run: bench/synthetic.py draws the store in slices of "
           f"{r['rescore_scale']['chunk_customers']:,} customers and COPYs "
           "each before drawing the next (one ANALYZE at the end); then a first and a nightly "
           "rescore, each in a fresh process (bench/rescore.py)."] if "rescore_scale" in r
          else []),
        "- **Fan-out**: bench/rescore_scale.py's `fan_out`: stores of 0.5x to 1.5x the given "
        "size, `tasks.rescore.rescore_all` queues one task per store (biggest first) to the "
        "Procfile's Celery worker; wall time until every store's `rescored_at` moved, task "
        "times from the worker's log; a first and a nightly round, the table shows the "
        "nightly one.",
        f"- **Pipeline throughput**: {tp['orders']:,} orders/create deliveries "
        f"({tp['mix']['returning']} returning customers, {tp['mix']['new']} new, "
        f"{tp['mix']['anonymous_guest']} anonymous guests) committed as inbox rows in one "
        "transaction, then each signalled with the webhook's own call (`signal_store`: the "
        "first queues the store's drain, the rest find the store marked) "
        f"(all {tp['orders']:,} in {tp['enqueue_seconds']} s) to the Procfile's Celery "
        "worker (`-Q realtime,sync,bulk`, default concurrency = CPU count), already running; "
        f"{tp['processed']:,} processed in {tp['seconds']} s (statuses {tp['statuses']}), "
        f"{tp['profiles_refreshed']:,} profiles rewritten. Code measured: commit "
        f"`{r['pipeline']['commit']}`.",
        *([f"- **Broker down**: bench/broker_down.py: the Procfile's gunicorn with REDIS_URL "
           "and TAGWISE_BROKER_URL at a closed port; signed deliveries one after another "
           f"(statuses {r['broker_down']['statuses']}); the rows wait for the sweeper."]
          if "broker_down" in r else []),
        "- **CPU per order**: over the throughput phase, utime + stime (/proc/PID/stat) of the "
        "Celery worker's process tree, of the PostgreSQL backends serving the bench database "
        "and of the Redis server, divided by the orders processed.",
        f"- **Webhook → tag**: {lat['orders']} signed orders for new customers POSTed to "
        f"gunicorn at {lat['offered_rate']:.1f}/s offered (achieved "
        f"{lat['achieved_send_rate']:.1f}/s), worker running; time from "
        "sending the request to the first tag mutation naming the customer at the Shopify "
        f"stand-in (its cost bucket kept full). {lat['tagged_customers']} customers tagged; "
        f"max {_n(lat['max_s'], 2)} s. Tag mutation requests in the whole phase: "
        f"{r['pipeline']['tag_requests']}.",
        *([f"- **Burst**: bench/pipeline.py's `burst`: {r['pipeline']['burst']['stores']} "
           "stores, half the deliveries to the loaded store (returning, new and guest "
           "customers), the rest spread over the others (new customers), interleaved, POSTed "
           "by 16 threads through gunicorn at the offered rate; lost = answered 200 but no "
           "inbox row; webhook → tag for the small stores' customers as above."]
          if "burst" in r["pipeline"] else []),
        f"- **Model core vs lifetimes**: bench/predict_vs_lifetimes.py "
        f"({r['predict']['generated_at']}; bench/PREDICT_REPORT.md has stages and parameters).",
        "- **Sync**: bench/sync_requests.py against the local stand-ins: one batch; 429s per "
        "10,000 changes with several workers at once, without and with the Redis rate governor "
        "(bench/sync_throttle.py: Klaviyo on the stand-in's virtual clock with its documented "
        "per-endpoint limits, Mailchimp's 10-connection limit on wall time); requests per "
        "1,000 changes arriving as a stream, fixed vs adaptive debounce "
        "(bench/sync_stream.py, wall time, the production scheduling functions).",
        "- **Footprint**: pg_total_relation_size of orders, line items and refunds (profiles "
        "have no Redis copy since issue 16).",
        "",
    ]
    if FINDINGS.exists():
        lines.append(FINDINGS.read_text())
    path.write_text("\n".join(lines) + "\n")

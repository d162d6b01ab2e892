"""`make bench`, part two: the lookup path under load against the database's own ceiling, measured
in one run on this machine. Starts a throwaway passby (release build) on its embedded PostgreSQL
through the shared launcher, seeds fresh single-use tokens, drives POST /v1/lookups with wrk (32
connections), then runs the same SQL with pgbench on the same database, and prints the ratios.

Usage: bench.py PATH/TO/release/passby
Environment: BENCH_SECONDS (10), BENCH_TOKENS_COUNT, BENCH_LEDGER_SIZE (1,000,000),
BENCH_MICRO_JSON (the micro-benchmarks' results, shown beside), BENCH_PROFILE=DIR (a perf profile),
BENCH_QUICK=1 (only the lookups with the sealer on, verifications and the pgbench baseline, for
trying a change; nothing is written to bench/results.json), with BENCH_STATEMENTS=1 (the lookups'
statements from pg_stat_statements: calls and time).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from live import PEOPLE, ROOT, HAProxy, Passby, pg_bin

DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
QUICK = os.environ.get("BENCH_QUICK") == "1"


def cpu_seconds(pids, reaped=()):
    """User plus system CPU time of these processes so far, in seconds (from /proc/PID/stat),
    with, for those in `reaped`, the time of their children that have exited."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        if pid in reaped:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime: backends that exited
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids(passby):
    """The embedded cluster's postmaster and every process it started (backends, walwriter, …)."""
    postmaster = int((passby.cluster / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return [postmaster, *children]


def postgres_cpu(passby):
    """The embedded cluster's CPU seconds so far, backends that exited included."""
    pids = postgres_pids(passby)
    return cpu_seconds(pids, reaped=pids[:1])


def context_switches(pid):
    """Context switches (voluntary and not) of every thread of a process so far."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            total += sum(int(n) for n in re.findall(r"ctxt_switches:\s+(\d+)", status.read_text()))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def with_cpu(passby, run):
    """Runs `run` (a wrk call) and adds the CPU milliseconds per request that passby and
    PostgreSQL spent over it, user plus system, read from /proc before and after, and passby's
    context switches per request."""
    pid = passby.process.pid
    pg_before, passby_before, switches_before = postgres_cpu(passby), cpu_seconds([pid]), context_switches(pid)
    result = run()
    pg_after, passby_after, switches_after = postgres_cpu(passby), cpu_seconds([pid]), context_switches(pid)
    requests = result[0] * DURATION + result[3]
    return (*result, (passby_after - passby_before) * 1000 / requests, (pg_after - pg_before) * 1000 / requests,
            (switches_after - switches_before) / requests)


def wrk(url, script=None, **env):
    """One wrk run of 32 connections; returns (requests/s of 2xx, p50 ms, p99 ms, non-2xx)."""
    command = ["wrk", "-t2", "-c32", f"-d{DURATION}s", "--latency", *(["-s", str(script)] if script else []), url]
    text = subprocess.run(command, env=dict(os.environ, **env), capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", text).group(1))
    seconds = float(re.search(r"requests in ([\d.]+)s", text).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    bad = int(bad.group(1)) if bad else 0

    def ms(label):
        value, unit = re.search(label + r"%\s+([\d.]+)(us|ms|s)", text).groups()
        return float(value) / 1000 if unit == "us" else float(value) * 1000 if unit == "s" else float(value)

    return (total - bad) / seconds, ms("50"), ms("99"), bad


def seal_ms(passby):
    """Milliseconds of one `passby ledger seal`, or None when there was nothing to seal."""
    found = re.search(r" in ([0-9.]+) ms", passby.cli("ledger", "seal"))
    return float(found.group(1)) if found else None


def main():
    # The benchmark measures throughput, not the rate limits.
    # With --demo: the passer-by's assertion comes from the development identity provider.
    passby = Passby(sys.argv[1], start=False, env={
        "PASSBY_LOOKUPS_PER_MINUTE_REQUESTER": "1000000000", "PASSBY_LOOKUPS_PER_MINUTE_SUBJECT": "1000000000"})
    figures = {}
    try:
        # First with the sealer off (one seal a day), then with it sealing every second.
        passby.start(PASSBY_SEAL_SECONDS="86400")
        key = json.loads(passby.cli("clients", "add", "--name", "bench", "--role", "helper", "--json"))["key"]
        needed = int(os.environ.get("BENCH_TOKENS_COUNT", DURATION * 3000))
        tokens = {phase: passby.work / f"tokens-{phase}.txt" for phase in ("off", "on", "png")}
        subject = passby.cli("dev", "bench-seed", "--count", str(needed), "--tokens", str(tokens["off"])).strip()
        passby.cli("dev", "bench-seed", "--count", str(needed), "--tokens", str(tokens["on"]))
        passby.cli("dev", "bench-seed", "--count", str(needed), "--tokens", str(tokens["png"]))
        passerby = PEOPLE["passerby"]
        assertion = passby.cli("dev", "assertion", "--name", passerby.name, "--id", passerby.id_number).strip()

        def lookups(phase, **accept):  # wrk's two threads take alternate lines, so no token is used twice
            return wrk(passby.base, ROOT / "bench/lookup.lua", BENCH_TOKENS=str(tokens[phase]), BENCH_THREADS="2", BENCH_KEY=key,
                       BENCH_ASSERTION=assertion, BENCH_SUBJECT=subject, **accept)

        statements = QUICK and os.environ.get("BENCH_STATEMENTS") == "1"
        if QUICK:
            if statements:
                passby.psql("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            passby.stop_process(signal.SIGINT)
            passby.start(PASSBY_SEAL_SECONDS="1")
            while seal_ms(passby) is not None:  # the seeds' ledger entries, sealed before the run as in a full one
                pass
            if statements:
                passby.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                passby.psql("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
                passby.psql("ALTER SYSTEM SET pg_stat_statements.track_planning = on")
                passby.psql("SELECT pg_reload_conf()")
                passby.psql("SELECT pg_stat_statements_reset()")
        else:
            figures["lookups_off"] = lookups("off")[0]

            # Sealing cost: 1,000 new entries on a small ledger, then on a ledger of a million.
            seal_ms(passby)
            passby.psql("INSERT INTO ledger (kind, result) SELECT 'verification', 'valid' FROM generate_series(1, 1000)")
            figures["seal_small"] = seal_ms(passby)
            passby.psql("INSERT INTO ledger (kind, result) SELECT 'verification', 'valid' "
                        f"FROM generate_series(1, {int(os.environ.get('BENCH_LEDGER_SIZE', '1000000'))})")
            while seal_ms(passby) is not None:
                pass
            passby.psql("ANALYZE")  # as autovacuum would after a bulk load, so that plans reflect a million rows
            passby.psql("INSERT INTO ledger (kind, result) SELECT 'verification', 'valid' FROM generate_series(1, 1000)")
            figures["seal_large"] = seal_ms(passby)
            figures["ledger_size"] = int(passby.psql("SELECT count(*) FROM ledger"))
            figures["verify_per_s"], figures["verify_peak_mb"] = ledger_verify(passby)
            passby.stop_process(signal.SIGINT)

            # Start-up: launch to a 200 from /readyz with an existing data directory (PostgreSQL
            # included); the median of three. The last start stays up, sealing every second.
            startups = []
            for attempt in range(3):
                passby.stop_process(signal.SIGINT)
                began = time.monotonic()
                passby.start(PASSBY_SEAL_SECONDS="1")
                startups.append((time.monotonic() - began) * 1000)
            figures["startup_ms"] = sorted(startups)[1]

        profile = os.environ.get("BENCH_PROFILE")
        if profile:
            Path(profile).mkdir(parents=True, exist_ok=True)
            recorder = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-p", str(passby.process.pid), "-o", f"{profile}/perf.data",
                                         "--", "sleep", str(DURATION)], stderr=open(f"{profile}/perf.log", "w"))
        (figures["lookups"], figures["p50"], figures["p99"], figures["refused"], figures["lookup_cpu_ms"],
         figures["lookup_pg_cpu_ms"], figures["lookup_switches"]) = with_cpu(passby, lambda: lookups("on"))
        if statements:
            print(passby.psql("SELECT calls, plans, round((total_plan_time / calls)::numeric, 3), round(mean_exec_time::numeric, 3), "
                              "left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_statements WHERE calls > 0 "
                              "ORDER BY total_exec_time DESC LIMIT 12"))
        if profile:
            recorder.wait()
            write_profile(Path(profile))
        (figures["png_lookups"], _, _, figures["png_refused"], figures["png_lookup_cpu_ms"], _, _) = with_cpu(
            passby, lambda: lookups("png", BENCH_ACCEPT="image/png"))

        # Verifications of display codes (valid for the whole run), then a bare route in the same binary.
        checkpoint = json.loads(passby.cli("clients", "add", "--name", "bench-checkpoint", "--role", "checkpoint", "--json"))["key"]
        codes = passby.work / "codes.txt"
        done = subprocess.run([passby.binary, "dev", "code", "--data-dir", str(passby.data), "--count", "500"], capture_output=True,
                              text=True, check=True, env=dict(passby.env, PASSBY_DISPLAY_TTL_SECONDS="60"))
        codes.write_text(done.stdout)
        figures["verifications"], figures["vp50"], figures["vp99"], _, figures["verification_cpu_ms"], _, figures["verification_switches"] = with_cpu(
            passby, lambda: wrk(passby.base, ROOT / "bench/verify.lua", BENCH_CODES=str(codes), BENCH_KEY=checkpoint))
        figures["bare"], _, _, _ = wrk(passby.base + "/healthz")
        status = Path(f"/proc/{passby.process.pid}/status").read_text()
        figures["peak_rss_mb"] = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024

        # Baseline: the same SQL through pgbench, on grants that never run out of uses.
        passby.psql("""
CREATE TABLE bench_grants (n serial PRIMARY KEY, id uuid, token_hash bytea, subject_key bytea);
WITH made AS (
  INSERT INTO consent_grants (id, token_hash, subject_key, grantor_key, grantor_relation, legal_basis, method, valid_from, valid_until, max_uses)
  SELECT gen_random_uuid(), sha256(('bench-' || i)::bytea), s.subject_key, s.subject_key, 'self', 'consent', 'terminal', now(),
         now() + interval '1 day', 1000000000
  FROM generate_series(1, 1000) i, (SELECT subject_key FROM subjects LIMIT 1) s
  RETURNING id, token_hash, subject_key)
INSERT INTO bench_grants (id, token_hash, subject_key) SELECT id, token_hash, subject_key FROM made""")
        pg_before = postgres_cpu(passby)
        figures["tps"], _ = pgbench_run(passby, "lookup.pgbench", grants=1000)
        figures["tps_pg_cpu_ms"] = (postgres_cpu(passby) - pg_before) * 1000 / (figures["tps"] * DURATION)
        if statements:  # the same SQL from one client: each statement's time is then its own work, not waits
            passby.psql("SELECT pg_stat_statements_reset()")
            one_tps, _ = pgbench_run(passby, "lookup.pgbench", clients=1, grants=1000)
            print(f"pgbench, one client: {one_tps:.0f} TPS; calls, plans, per call (ms): planning, execution, then the statement")
            print(passby.psql("SELECT calls, plans, round((total_plan_time / calls)::numeric, 3), round(mean_exec_time::numeric, 3), "
                              "left(regexp_replace(query, '\\s+', ' ', 'g'), 100) FROM pg_stat_statements "
                              "WHERE calls > 1000 ORDER BY total_exec_time + total_plan_time DESC LIMIT 25"))
        if not QUICK:
            figures["rate_tps"], figures["rate_latency_ms"] = pgbench_run(passby, "rate_limit.pgbench")
            figures["instances"] = instances(passby, key, assertion, subject, needed)
    finally:
        passby.stop()
    micro_path = os.environ.get("BENCH_MICRO_JSON")
    print_results(figures, json.loads(Path(micro_path).read_text()) if micro_path else {}, ROOT / "bench/results.json")


def pgbench_run(passby, script, clients=16, **variables):
    """TPS and average latency (ms) of one pgbench run of `script` (16 clients, prepared)."""
    defined = [f"-D{name}={value}" for name, value in variables.items()]
    text = subprocess.run([str(pg_bin(passby.binary) / "pgbench"), "-h", str(passby.cluster), "-U", "postgres", "-n", "-M", "prepared",
                           "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(DURATION), *defined, "-f", str(ROOT / "bench" / script), "passby"],
                          capture_output=True, text=True, check=True, env=passby.pg_env()).stdout
    return float(re.search(r"tps = ([\d.]+)", text).group(1)), float(re.search(r"latency average = ([\d.]+) ms", text).group(1))


def ledger_verify(passby):
    """`passby ledger verify` over the whole ledger: entries per second and peak resident memory (MB)."""
    began = time.monotonic()
    done = subprocess.run(["/usr/bin/time", "-v", passby.binary, "ledger", "verify", "--data-dir", str(passby.data)], capture_output=True,
                          text=True, env=passby.env)
    seconds = time.monotonic() - began
    assert done.returncode == 0, done.stdout + done.stderr
    entries = int(re.search(r"verifies: (\d+) sealed entries", done.stdout).group(1))
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return entries / seconds, peak_kb / 1024


def instances(passby, key, assertion, subject, needed):
    """Lookups/s through HAProxy with one, two and three instances on this one database; the
    others join the first's embedded cluster through DATABASE_URL, with its key-encryption key."""
    superuser = (passby.cluster / "passby-superuser.secret").read_bytes().hex()
    application = (passby.cluster / "passby-app.secret").read_bytes().hex()
    url = f"@localhost:5432/passby?host={passby.cluster}&sslmode=disable"
    env = {**{k: v for k, v in passby.env.items() if k.startswith("PASSBY_LOOKUPS")},
           "DATABASE_URL": f"postgres://postgres:{superuser}{url}", "PASSBY_APP_DATABASE_URL": f"postgres://passby_app:{application}{url}",
           "PASSBY_KEK_FILE": str(passby.data / "kek"), "PASSBY_SEAL_SECONDS": "1", "LOG_LEVEL": "warning"}
    # --demo, as the first: they trust the development provider that minted the benchmark's assertion.
    others = [Passby(passby.binary, env=env) for _ in range(2)]
    rates = {}
    try:
        for count in (1, 2, 3):
            balancer = HAProxy([x.port for x in [passby, *others][:count]])
            try:
                tokens = passby.work / f"tokens-{count}.txt"
                passby.cli("dev", "bench-seed", "--count", str(needed), "--tokens", str(tokens))
                rate, _, _, refused = wrk(balancer.via.base, ROOT / "bench/lookup.lua", BENCH_TOKENS=str(tokens), BENCH_THREADS="2",
                                          BENCH_KEY=key, BENCH_ASSERTION=assertion, BENCH_SUBJECT=subject)
                assert refused == 0, f"{refused} lookups refused with {count} instances"
                rates[count] = rate
            finally:
                balancer.stop()
    finally:
        for other in others:
            other.stop()
    return rates


def write_profile(profile):
    """The perf profile as text: by symbol and by library."""
    for name, sort in (("lookups.txt", "dso,symbol"), ("lookups-by-library.txt", "dso")):
        report = subprocess.run(["perf", "report", "-i", str(profile / "perf.data"), "--no-children", "-g", "none", "--sort", sort,
                                 "--stdio"], capture_output=True, text=True).stdout
        lines = [line for line in report.splitlines() if "%" in line]
        if sort != "dso":
            lines = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(lines), capture_output=True,
                                   text=True).stdout.splitlines()
        (profile / name).write_text("\n".join(line[:200] for line in lines[:60 if sort != "dso" else 20]) + "\n")


def print_results(f, micro, path):
    # (label, value, unit, target), each made when its figures were measured (BENCH_QUICK skips some).
    made = [
        lambda: ("lookups/s (POST /v1/lookups, SVG, 32 conn.)", f["lookups"], "", ""),
        lambda: ("  p50 / p99 latency", f'{f["p50"]:.2f} / {f["p99"]:.2f}', "ms", "p99 ≤ 50"),
        lambda: ("  passby CPU per lookup (user + system)", f'{f["lookup_cpu_ms"]:.3f}', "ms", "≤ 0.8"),
        lambda: ("  PostgreSQL CPU per lookup", f'{f["lookup_pg_cpu_ms"]:.3f}', "ms", "≤ 0.5"),
        lambda: ("  passby context switches per lookup", f["lookup_switches"], "", ""),
        lambda: ("  display code length / QR version at M", f'{micro.get("code_length", 0):.0f} / {micro.get("qr_version", 0):.0f}', "", "QR ≤ 8"),
        lambda: ("  refused (should be 0)", f["refused"], "", ""),
        lambda: ("lookups/s answered as PNG (Accept: image/png)", f["png_lookups"], "", ""),
        lambda: ("  passby CPU per PNG lookup", f'{f["png_lookup_cpu_ms"]:.3f}', "ms", "≤ SVG's"),
        lambda: ("  refused (should be 0)", f["png_refused"], "", ""),
        lambda: ("baseline TPS (same SQL, pgbench, 16 clients)", f["tps"], "", ""),
        lambda: ("  PostgreSQL CPU per baseline transaction", f'{f["tps_pg_cpu_ms"]:.3f}', "ms", ""),
        lambda: ("lookup ratio (lookups/s ÷ baseline TPS)", f["lookups"] / f["tps"], "×", "≥ 0.35"),
        lambda: ("verifications/s (display codes, 32 conn.)", f["verifications"], "", ""),
        lambda: ("  p50 / p99 latency", f'{f["vp50"]:.2f} / {f["vp99"]:.2f}', "ms", ""),
        lambda: ("  passby CPU per verification", f'{f["verification_cpu_ms"]:.3f}', "ms", "≤ 0.25"),
        lambda: ("  passby context switches per verification", f["verification_switches"], "", ""),
        lambda: ("bare route req/s (GET /healthz, 32 conn.)", f["bare"], "", ""),
        lambda: ("framework ratio (verifications ÷ bare)", f["verifications"] / f["bare"], "×", "≥ 0.25"),
        lambda: ("code-build ratio (build ÷ sign + QR)", micro.get("code_build_ratio", float("nan")), "×", "≤ 1.5"),
        lambda: ("drawing a symbol, PNG ÷ SVG (passby-bench)", micro["png_svg_ratio"], "×", ""),
        lambda: ("peak resident memory of passby", f["peak_rss_mb"], "MB", "≤ 150"),
        lambda: ("start-up to ready (existing data dir)", f["startup_ms"], "ms", "≤ 3000"),
        lambda: ("lookups/s with the sealer off", f["lookups_off"], "", ""),
        lambda: ("sealer ratio (on ÷ off)", f["lookups"] / f["lookups_off"], "×", "≥ 0.9"),
        lambda: ("seal 1,000 new entries, small ledger", f["seal_small"], "ms", ""),
        lambda: (f'seal 1,000 new entries, ledger of {f["ledger_size"]}', f["seal_large"], "ms", ""),
        lambda: ("  ratio (large ÷ small)", f["seal_large"] / f["seal_small"], "×", ""),
        lambda: (f'ledger verify, ledger of {f["ledger_size"]}: entries/s', f["verify_per_s"], "", ""),
        lambda: ("  peak resident memory", f["verify_peak_mb"], "MB", "≤ 256"),
        lambda: ("rate-limit statements of a lookup (pgbench TPS)", f["rate_tps"], "", ""),
        lambda: ("  latency at 16 clients", f"{f['rate_latency_ms']:.3f}", "ms", ""),
        lambda: ("  ratio (rate-limit TPS ÷ lookup-SQL TPS)", f["rate_tps"] / f["tps"], "×", ""),
        lambda: [(f"lookups/s through HAProxy, {n} instance{'s' if n > 1 else ''}", rate, "", "") for n, rate in f["instances"].items()],
        lambda: ("  ratio (3 instances ÷ 1)", f["instances"][3] / f["instances"][1], "×", ""),
        lambda: ("  ratio (3 instances ÷ baseline TPS)", f["instances"][3] / f["tps"], "×", ""),
    ]
    rows = []
    for make in made:
        try:
            made_row = make()
        except KeyError:
            continue
        rows.extend(made_row if isinstance(made_row, list) else [made_row])
    print("=" * 80)
    print(f'{"measure":<46}{"value":>14}  {"target"}')
    for label, value, unit, target in rows:
        shown = value if isinstance(value, (str, int)) else (f"{value:.2f}" if unit == "×" or abs(value) < 10 else f"{value:.0f}")
        print(f"{label:<46}{shown:>11} {unit:<3} {target}")
    if QUICK:
        return
    results = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "lookups_per_s": f["lookups"], "lookup_p50_ms": f["p50"], "lookup_p99_ms": f["p99"], "lookups_refused": f["refused"],
        "lookup_passby_cpu_ms": f["lookup_cpu_ms"], "lookup_postgres_cpu_ms": f["lookup_pg_cpu_ms"],
        "png_lookups_per_s": f["png_lookups"], "png_lookup_passby_cpu_ms": f["png_lookup_cpu_ms"], "png_lookups_refused": f["png_refused"],
        "verification_passby_cpu_ms": f["verification_cpu_ms"],
        "lookup_passby_context_switches": f["lookup_switches"], "verification_passby_context_switches": f["verification_switches"],
        "baseline_tps": f["tps"], "baseline_postgres_cpu_ms": f["tps_pg_cpu_ms"], "lookup_ratio": f["lookups"] / f["tps"],
        "verifications_per_s": f["verifications"], "verification_p50_ms": f["vp50"], "verification_p99_ms": f["vp99"],
        "bare_route_per_s": f["bare"], "framework_ratio": f["verifications"] / f["bare"],
        "peak_rss_mb": f["peak_rss_mb"], "startup_ms": f["startup_ms"],
        "lookups_per_s_sealer_off": f["lookups_off"], "sealer_ratio": f["lookups"] / f["lookups_off"],
        "seal_1000_small_ms": f["seal_small"], "seal_1000_large_ms": f["seal_large"], "ledger_size": f["ledger_size"],
        "ledger_verify_per_s": f["verify_per_s"], "ledger_verify_peak_mb": f["verify_peak_mb"],
        "rate_limit_tps": f["rate_tps"], "rate_limit_latency_ms": f["rate_latency_ms"],
        "lookups_per_s_by_instances": {str(n): rate for n, rate in f["instances"].items()},
        "micro": micro,
    }
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()

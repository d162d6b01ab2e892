#!/usr/bin/env bash
# `make bench`, part two: the lookup path under load against the database's own ceiling, measured
# in one run on this machine. Starts a throwaway passby (release build) on its embedded
# PostgreSQL, seeds fresh single-use tokens, drives POST /v1/lookups with wrk (32 connections),
# then runs the same SQL with pgbench on the same database, and prints the ratio.
# Usage: scripts/bench.sh path/to/release/passby
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")/.." && pwd)
pg_bin=$("$bin" dev pg-bin)  # located as passby locates it
duration=${BENCH_SECONDS:-10}
work=$(mktemp -d /tmp/passby-bench.XXXXXX)
chmod 755 "$work"
data="$work/data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The benchmark measures throughput, not the rate limits.
export PASSBY_LOOKUPS_PER_MINUTE_REQUESTER=1000000000 PASSBY_LOOKUPS_PER_MINUTE_SUBJECT=1000000000 LOG_LEVEL=warning
start_server() { # start_server SEAL_SECONDS
  PASSBY_SEAL_SECONDS=$1 "$bin" serve --data-dir "$data" --port "$port" >>"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 3000); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ] && return 0; sleep 0.02; done
  echo "passby did not start"; cat "$work/serve.log"; exit 1
}
stop_server() { kill -INT "$pid"; wait "$pid" 2>/dev/null; pid=""; }

# One wrk run of 32 connections; prints "requests/s p50 p99 non-2xx". Extra arguments go to wrk.
run_wrk() { # run_wrk URL [wrk options…]
  local url=$1; shift
  wrk -t2 -c32 -d"${duration}s" --latency "$@" "$url" >"$work/wrk.txt"
  python3 - "$work/wrk.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
total = int(re.search(r"(\d+) requests in", text).group(1))
seconds = float(re.search(r"requests in ([\d.]+)s", text).group(1))
match = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
bad = int(match.group(1)) if match else 0
def ms(label):
    m = re.search(label + r"%\s+([\d.]+)(us|ms|s)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
print(f"{(total - bad) / seconds:.0f} {ms('50'):.2f} {ms('99'):.2f} {bad}")
PY
}
# Lookups with fresh single-use tokens (wrk's two threads take alternate lines).
run_lookups() { # run_lookups TOKENS_FILE
  BENCH_TOKENS="$1" BENCH_THREADS=2 BENCH_KEY="$key" BENCH_ASSERTION="$assertion" BENCH_SUBJECT="$subject" \
    run_wrk "$base" -s "$here/bench/lookup.lua"
}
seal_ms() { "$bin" ledger seal --data-dir "$data" | sed -n 's/.* in \([0-9.]*\) ms/\1/p'; }

# First with the sealer off (one seal a day), then with it sealing every second.
start_server 86400
key=$("$bin" clients add --data-dir "$data" --name bench --role helper --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
tokens_needed=${BENCH_TOKENS_COUNT:-$((duration * 3000))}
subject=$("$bin" dev bench-seed --data-dir "$data" --count "$tokens_needed" --tokens "$work/tokens-off.txt")
"$bin" dev bench-seed --data-dir "$data" --count "$tokens_needed" --tokens "$work/tokens-on.txt" >/dev/null
assertion=$("$bin" dev assertion --data-dir "$data" --name 刘洋 --id 440305199203040514)
read -r lookups_off p50_off p99_off refused_off < <(run_lookups "$work/tokens-off.txt")

# Sealing cost: 1,000 new entries on a small ledger, then on a ledger of a million.
psql="$pg_bin/psql -q -h $data/postgres -U postgres -d passby"
seal_ms >/dev/null
$psql -c "INSERT INTO ledger (kind, result) SELECT 'verification', 'valid' FROM generate_series(1, 1000)"
seal_small=$(seal_ms)
$psql -c "INSERT INTO ledger (kind, result) SELECT 'verification', 'valid' FROM generate_series(1, ${BENCH_LEDGER_SIZE:-1000000})"
while [ -n "$(seal_ms)" ]; do :; done
$psql -c "ANALYZE"   # as autovacuum would after a bulk load, so that plans reflect a million rows
$psql -c "INSERT INTO ledger (kind, result) SELECT 'verification', 'valid' FROM generate_series(1, 1000)"
seal_large=$(seal_ms)
ledger_size=$($psql -t -A -c "SELECT count(*) FROM ledger")
stop_server

# Start-up: launch to a 200 from /readyz with an existing data directory (PostgreSQL included);
# the median of three starts. The last start stays up, sealing every second.
startups=()
for attempt in 1 2 3; do
  [ -n "$pid" ] && stop_server
  began=$(date +%s%N)
  start_server 1
  startups+=("$(( ($(date +%s%N) - began) / 1000000 ))")
done
startup_ms=$(printf '%s\n' "${startups[@]}" | sort -n | sed -n 2p)

# BENCH_PROFILE=DIR records a perf profile of passby during the lookup run into DIR.
if [ -n "${BENCH_PROFILE:-}" ]; then
  mkdir -p "$BENCH_PROFILE"
  perf record -F 999 -g -p "$pid" -o "$BENCH_PROFILE/perf.data" -- sleep "$duration" 2>"$BENCH_PROFILE/perf.log" &
  profiler=$!
fi
read -r lookups p50 p99 refused < <(run_lookups "$work/tokens-on.txt")
if [ -n "${BENCH_PROFILE:-}" ]; then
  wait "$profiler" || true
  { perf report -i "$BENCH_PROFILE/perf.data" --no-children -g none --sort dso,symbol --stdio 2>/dev/null | grep '%' | swift demangle --simplified \
      | cut -c1-200 | head -n 60 >"$BENCH_PROFILE/lookups.txt"; } || true
  { perf report -i "$BENCH_PROFILE/perf.data" --no-children -g none --sort dso --stdio 2>/dev/null | grep '%' | head -n 20 \
      >"$BENCH_PROFILE/lookups-by-library.txt"; } || true
fi

# Verifications of display codes (valid for the whole run), then a bare route in the same binary.
checkpoint_key=$("$bin" clients add --data-dir "$data" --name bench-checkpoint --role checkpoint --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
PASSBY_DISPLAY_TTL_SECONDS=60 "$bin" dev code --data-dir "$data" --count 500 >"$work/codes.txt"
read -r verifications vp50 vp99 vbad < <(BENCH_CODES="$work/codes.txt" BENCH_KEY="$checkpoint_key" run_wrk "$base" -s "$here/bench/verify.lua")
read -r bare bp50 bp99 bbad < <(run_wrk "$base/healthz")
peak_rss_mb=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status")

# Baseline: the same SQL through pgbench, on grants that never run out of uses.
psql="$pg_bin/psql -q -h $data/postgres -U postgres -d passby"
$psql <<'SQL'
CREATE TABLE bench_grants (n serial PRIMARY KEY, id uuid, token_hash bytea, subject_key bytea);
WITH made AS (
  INSERT INTO consent_grants (id, token_hash, subject_key, grantor_key, grantor_relation, legal_basis, method, valid_from, valid_until, max_uses)
  SELECT gen_random_uuid(), sha256(('bench-' || i)::bytea), s.subject_key, s.subject_key, 'self', 'consent', 'terminal', now(), now() + interval '1 day', 1000000000
  FROM generate_series(1, 1000) i, (SELECT subject_key FROM subjects LIMIT 1) s
  RETURNING id, token_hash, subject_key)
INSERT INTO bench_grants (id, token_hash, subject_key) SELECT id, token_hash, subject_key FROM made;
SQL
"$pg_bin/pgbench" -h "$data/postgres" -U postgres -n -M prepared -c 16 -j 2 -T "$duration" -D grants=1000 \
  -f "$here/bench/lookup.pgbench" passby >"$work/pgbench.txt" 2>&1
tps=$(python3 -c 'import re,sys; print(round(float(re.search(r"tps = ([\d.]+)", open(sys.argv[1]).read()).group(1))))' "$work/pgbench.txt")

micro_json=${BENCH_MICRO_JSON:-}
export lookups p50 p99 refused tps lookups_off verifications vp50 vp99 vbad bare bp50 bp99 peak_rss_mb startup_ms \
  seal_small seal_large ledger_size micro_json
python3 - "$here/bench/results.json" <<'PY'
import json, os, sys, time
e = os.environ
n = lambda name: float(e[name])
micro = json.load(open(e["micro_json"])) if e.get("micro_json") else {}
rows = [  # (label, value, unit, target)
    ("lookups/s (POST /v1/lookups, SVG, 32 conn.)", n("lookups"), "", ""),
    ("  p50 / p99 latency", f'{e["p50"]} / {e["p99"]}', "ms", "p99 ≤ 50"),
    ("  refused (should be 0)", n("refused"), "", ""),
    ("baseline TPS (same SQL, pgbench, 16 clients)", n("tps"), "", ""),
    ("lookup ratio (lookups/s ÷ baseline TPS)", n("lookups") / n("tps"), "×", "≥ 0.5"),
    ("verifications/s (display codes, 32 conn.)", n("verifications"), "", ""),
    ("  p50 / p99 latency", f'{e["vp50"]} / {e["vp99"]}', "ms", ""),
    ("bare route req/s (GET /healthz, 32 conn.)", n("bare"), "", ""),
    ("framework ratio (verifications ÷ bare)", n("verifications") / n("bare"), "×", "≥ 0.25"),
    ("code-build ratio (build ÷ sign + QR)", micro.get("code_build_ratio", float("nan")), "×", "≤ 1.5"),
    ("peak resident memory of passby", n("peak_rss_mb"), "MB", "≤ 150"),
    ("start-up to ready (existing data dir)", n("startup_ms"), "ms", "≤ 3000"),
    ("lookups/s with the sealer off", n("lookups_off"), "", ""),
    ("sealer ratio (on ÷ off)", n("lookups") / n("lookups_off"), "×", "≥ 0.9"),
    ("seal 1,000 new entries, small ledger", n("seal_small"), "ms", ""),
    (f'seal 1,000 new entries, ledger of {e["ledger_size"]}', n("seal_large"), "ms", ""),
    ("  ratio (large ÷ small)", n("seal_large") / n("seal_small"), "×", ""),
]
print("=" * 80)
print(f'{"measure":<46}{"value":>14}  {"target"}')
for label, value, unit, target in rows:
    shown = value if isinstance(value, str) else (f"{value:.2f}" if unit == "×" else f"{value:.0f}")
    print(f"{label:<46}{shown:>11} {unit:<3} {target}")
results = {
    "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "lookups_per_s": n("lookups"), "lookup_p50_ms": n("p50"), "lookup_p99_ms": n("p99"), "lookups_refused": n("refused"),
    "baseline_tps": n("tps"), "lookup_ratio": n("lookups") / n("tps"),
    "verifications_per_s": n("verifications"), "verification_p50_ms": n("vp50"), "verification_p99_ms": n("vp99"),
    "bare_route_per_s": n("bare"), "framework_ratio": n("verifications") / n("bare"),
    "peak_rss_mb": n("peak_rss_mb"), "startup_ms": n("startup_ms"),
    "lookups_per_s_sealer_off": n("lookups_off"), "sealer_ratio": n("lookups") / n("lookups_off"),
    "seal_1000_small_ms": n("seal_small"), "seal_1000_large_ms": n("seal_large"), "ledger_size": n("ledger_size"),
    "micro": micro,
}
json.dump(results, open(sys.argv[1], "w"), indent=2, sort_keys=True)
print(f"written to {sys.argv[1]}")
PY

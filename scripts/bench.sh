#!/usr/bin/env bash
# `make bench`, part two: the lookup path under load against the database's own ceiling, measured
# in one run on this machine. Starts a throwaway passby (release build) on its embedded
# PostgreSQL, seeds fresh single-use tokens, drives POST /v1/lookups with wrk (32 connections),
# then runs the same SQL with pgbench on the same database, and prints the ratio.
# Usage: scripts/bench.sh path/to/release/passby
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")/.." && pwd)
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
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
  for _ in $(seq 1 120); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ] && return 0; sleep 0.5; done
  echo "passby did not start"; cat "$work/serve.log"; exit 1
}
stop_server() { kill -INT "$pid"; wait "$pid" 2>/dev/null; pid=""; }

# Lookups: wrk, 2 threads, 32 connections, fresh tokens; prints "lookups/s p50 p99 refused".
run_lookups() { # run_lookups TOKENS_FILE
  BENCH_TOKENS="$1" BENCH_THREADS=2 BENCH_KEY="$key" BENCH_ASSERTION="$assertion" BENCH_SUBJECT="$subject" \
    wrk -t2 -c32 -d"${duration}s" --latency -s "$here/bench/lookup.lua" "$base" >"$work/wrk.txt"
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

start_server 1
read -r lookups p50 p99 refused < <(run_lookups "$work/tokens-on.txt")

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

printf '%-44s %10s\n' "lookups/s (POST /v1/lookups, 32 connections)" "$lookups"
printf '%-44s %10s ms\n' "  p50 latency" "$p50"
printf '%-44s %10s ms\n' "  p99 latency" "$p99"
printf '%-44s %10s\n' "  refused (should be 0)" "$refused"
printf '%-44s %10s\n' "baseline TPS (same SQL, pgbench, 16 clients)" "$tps"
printf '%-44s %10s ×\n' "lookup ratio (lookups/s ÷ baseline TPS)" "$(python3 -c "print(f'{$lookups / $tps:.2f}')")"
printf '%-44s %10s\n' "lookups/s with the sealer off" "$lookups_off"
printf '%-44s %10s ×\n' "sealer ratio (on ÷ off, target ≥ 0.9)" "$(python3 -c "print(f'{$lookups / $lookups_off:.2f}')")"
printf '%-44s %10s ms\n' "seal 1,000 new entries, small ledger" "$seal_small"
printf '%-44s %10s ms\n' "seal 1,000 new entries, ledger of $ledger_size" "$seal_large"
printf '%-44s %10s ×\n' "  ratio (large ÷ small)" "$(python3 -c "print(f'{$seal_large / $seal_small:.2f}')")"

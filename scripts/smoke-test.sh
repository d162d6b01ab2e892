#!/usr/bin/env bash
# End-to-end smoke test of the real `passby` binary on its embedded PostgreSQL, the way
# `make run` starts it: readiness, the health-status API's answers, privacy of the stored data,
# clean shutdown, restart without re-seeding, and recovery from a crash.
# Usage: scripts/smoke-test.sh path/to/passby
set -uo pipefail

bin=$(realpath "$1")
pg_bin=$("$bin" dev pg-bin)  # located as passby locates it
work=$(mktemp -d /tmp/passby-smoke.XXXXXX)
chmod 755 "$work"   # the embedded cluster runs as an unprivileged user and must reach its directory
data="$work/data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
passed=0
failed=0
pid=""

check() { # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok   - $1"
  else failed=$((failed + 1)); echo "FAIL - $1: expected '$2', got '$3'"; fi
}

cluster_processes() { pgrep -f -- "-D $data/postgres" | wc -l; }

cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  pkill -9 -f -- "-D $data/postgres" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

start_server() {
  "$bin" serve --demo --data-dir "$data" --port "$port" >"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ] && return 0
    sleep 0.5
  done
  echo "server did not become ready:"; cat "$work/serve.log"; return 1
}

stop_server() {
  kill -INT "$pid"; wait "$pid"; local status=$?; pid=""; return $status
}

status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# --- commands that need no server ---
check "passby id inspect exits 0 for a valid number" 0 "$("$bin" id inspect 110105491231002 --on 2026-11-29 >/dev/null; echo $?)"
check "and prints the normalized number and group" "11010519491231002X elder" \
  "$("$bin" id inspect 110105491231002 --on 2026-11-29 | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["normalized"], r["group"])')"
check "passby id inspect exits 1 and names the reason for an invalid one" "1 checksum" \
  "$(out=$("$bin" id inspect 110105194912310021); echo "$? $(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["reason"])')")"
check "passby migrate starts the cluster for itself and leaves it stopped" "0 0" \
  "$("$bin" migrate --data-dir "$data" >/dev/null 2>&1; echo "$? $(cluster_processes)")"

# --- first start: readiness within 60 s ---
start=$(date +%s)
start_server
check "healthz and readyz answer 200 within 60 s" "ok" "$([ $(( $(date +%s) - start )) -le 60 ] && echo ok)"
check "GET /healthz" 200 "$(status_of "$base/healthz")"

gateway=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['demo-gateway'])" "$data/demo-keys.json")
helper=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['demo-helper'])" "$data/demo-keys.json")
elder=$(grep -oE '^  elder +[0-9]{17}[0-9X]' "$work/serve.log" | awk '{print $2}')
check "the walk-through names the demo elder" 18 "${#elder}"

put() { curl -s -X PUT "$base/v1/health-statuses" -H 'Content-Type: application/json' "$@"; }
check "PUT without a key: 401" 401 "$(status_of -X PUT "$base/v1/health-statuses" -d '[]')"
check "PUT with a helper's key: 403" 403 "$(status_of -X PUT "$base/v1/health-statuses" -H "Authorization: Bearer $helper" -d '[]')"
check "PUT with malformed JSON: 400" 400 "$(status_of -X PUT "$base/v1/health-statuses" -H "Authorization: Bearer $gateway" -d '[{')"
check "malformed JSON is answered as problem+json" "application/problem+json" \
  "$(curl -s -o /dev/null -w '%{content_type}' -X PUT "$base/v1/health-statuses" -H "Authorization: Bearer $gateway" -d '[{')"
batch='[{"id_number":"11010519491231002X","name":"赵大爷","status":"green","as_of":"2026-01-02T00:00:00Z"},
        {"id_number":"110105194912310021","name":"钱奶奶","status":"red","as_of":"2026-01-02T00:00:00Z"}]'
answer=$(put -H "Authorization: Bearer $gateway" -d "$batch")
check "a batch with one bad ID number: the rest accepted, the bad one rejected with its reason" "accepted rejected:checksum" \
  "$(python3 -c "import json,sys; r=json.loads(sys.argv[1])['results']; print(' '.join(x['result'] + (':' + x['reason'] if 'reason' in x else '') for x in r))" "$answer")"
big=$(python3 -c "print('[' + ','.join(['{\"id_number\":\"11010519491231002X\",\"name\":\"x\",\"status\":\"green\",\"as_of\":\"2026-01-01T00:00:00Z\"}'] * 1000) + ']')")
check "a body over the limit: 413" 413 "$(printf '%s' "$big" | status_of -X PUT "$base/v1/health-statuses" -H "Authorization: Bearer $gateway" --data-binary @-)"

# --- the CLI reaches the running server's cluster; revocation takes effect at once ---
client=$("$bin" clients add --data-dir "$data" --name smoke-gateway --role gateway --json)
key=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['key'])" "$client")
id=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['id'])" "$client")
check "a new client's key works" 200 "$(status_of -X PUT "$base/v1/health-statuses" -H "Authorization: Bearer $key" -d '[]')"
"$bin" clients revoke --data-dir "$data" "$id" >/dev/null
check "a revoked key gets 401 at once" 401 "$(status_of -X PUT "$base/v1/health-statuses" -H "Authorization: Bearer $key" -d '[]')"

# --- the consent flow with curl and the CLI alone ---
guardian=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['demo-guardian'])" "$data/demo-keys.json")
elder_name=$(grep -E '^  elder +[0-9]{17}[0-9X]' "$work/serve.log" | awk '{print $3}')
G=$("$bin" dev assertion --data-dir "$data" --name 王建华 --id 110105198001010016)
P=$("$bin" dev assertion --data-dir "$data" --name 刘洋 --id 440305199203040514)
as_guardian=(-H "Authorization: Bearer $guardian" -H "Passby-Assertion: $G")
as_helper=(-H "Authorization: Bearer $helper" -H "Passby-Assertion: $P")
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ''))" "$1" "$2"; }
check "a guardian registers a family member" 201 "$(status_of -X POST "$base/v1/family-members" "${as_guardian[@]}" \
  -d "{\"id_number\":\"$elder\",\"name\":\"$elder_name\",\"relationship\":\"parent\"}")"
first=$(curl -s -X POST "$base/v1/consents" "${as_guardian[@]}" -d "{\"id_number\":\"$elder\"}")
check "the guardian withdraws a grant" 204 "$(status_of -X DELETE "$base/v1/consents/$(field "$first" id)" "${as_guardian[@]}")"
lookup() { curl -s -X POST "$base/v1/lookups" "${as_helper[@]}" -d "{\"id_number\":\"$elder\",\"consent_token\":\"$1\"}"; }
check "a lookup on the withdrawn grant is refused" "consent-withdrawn" "$(field "$(lookup "$(field "$first" token)")" reason)"
second=$(curl -s -X POST "$base/v1/consents" "${as_guardian[@]}" -d "{\"id_number\":\"$elder\"}")
answer=$(lookup "$(field "$second" token)")
field "$answer" code >"$work/lookup-code.txt"
check "a helper looks up with the new token" "PB1:" "$(head -c 4 "$work/lookup-code.txt")"
check "the same single-use token again is refused" "consent-used" "$(field "$(lookup "$(field "$second" token)")" reason)"

# --- offline codes: a guardian saves one, staff log in and verify it from its printed card ---
printf 'smoke-test-password\n' | "$bin" staff add --data-dir "$data" --username gate-1 >/dev/null
session=$(field "$(curl -s -X POST "$base/v1/staff/sessions" -d '{"username":"gate-1","password":"smoke-test-password"}')" token)
check "staff log in with username and password" "pbs_" "${session:0:4}"
check "a wrong password gets 401" 401 "$(status_of -X POST "$base/v1/staff/sessions" -d '{"username":"gate-1","password":"nope-nope"}')"
saved=$(curl -s -X POST "$base/v1/offline-codes" "${as_guardian[@]}" -d "{\"id_number\":\"$elder\"}")
verify() { curl -s -X POST "$base/v1/verifications" -H "Authorization: Bearer $1" -d "{\"code\":\"$2\"}"; }
check "staff verify the saved offline code" "valid" "$(field "$(verify "$session" "$(field "$saved" code)")" verdict)"
curl -s "$base$(field "$saved" print_url)?format=png" "${as_guardian[@]}" -o "$work/card.png"
if [ -n "${PYTHON:-}" ]; then
  printed=$("$PYTHON" -c "import sys, zxingcpp; from PIL import Image; print(''.join(r.text for r in zxingcpp.read_barcodes(Image.open(sys.argv[1]), formats=zxingcpp.BarcodeFormat.QRCode)))" "$work/card.png")
  check "the printed card's QR decodes with zxing-cpp to the saved code" "$(field "$saved" code)" "$printed"
fi
# A terminal replaces it: the old code is refused as replaced, yet its signature is as good as ever.
field "$saved" code >"$work/offline-old.txt"
replaced=$(curl -s -X POST "$base/v1/offline-codes/replace" -H "Authorization: Bearer $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['demo-terminal'])" "$data/demo-keys.json")" \
  -d "{\"method\":\"id-card\",\"id_number\":\"$elder\",\"name\":\"$elder_name\"}")
field "$replaced" code >"$work/offline-new.txt"
check "after a replace the old offline code verifies as replaced" "replaced" "$(field "$(verify "$session" "$(cat "$work/offline-old.txt")")" verdict)"
check "and the new one as valid" "valid" "$(field "$(verify "$session" "$(cat "$work/offline-new.txt")")" verdict)"
if [ -n "${PYTHON:-}" ]; then
  curl -s "$base/.well-known/passby-keys.json" >"$work/keys.json"
  if "$PYTHON" "$(dirname "$0")/../tests-interop/check_codes.py" signature "$work/keys.json" "$work/offline-old.txt" "$work/offline-new.txt" >"$work/interop.log"; then
    check "pycose verifies both offline codes' signatures" 0 0
  else
    check "pycose verifies both offline codes' signatures" 0 1; cat "$work/interop.log"
  fi
fi
"$bin" staff disable --data-dir "$data" gate-1 >/dev/null
check "a disabled staff member's session stops at once" 401 "$(status_of -X POST "$base/v1/verifications" -H "Authorization: Bearer $session" -d '{"code":"x"}')"

# --- a code from this server, checked from outside with pycose and zxing-cpp ---
if [ -n "${PYTHON:-}" ]; then
  curl -s "$base/.well-known/passby-keys.json" >"$work/keys.json"
  if "$PYTHON" "$(dirname "$0")/../tests-interop/check_codes.py" live "$work/keys.json" "$work/lookup-code.txt" >"$work/interop.log"; then
    check "the lookup's display code verifies with pycose and stops 10 s + skew after issue" 0 0
  else
    check "the lookup's display code verifies with pycose and stops 10 s + skew after issue" 0 1; cat "$work/interop.log"
  fi
fi

if [ -n "${PYTHON:-}" ]; then
  curl -s "$base/.well-known/passby-keys.json" >"$work/keys.json"
  "$bin" dev code --data-dir "$data" --qr "$work/code.png" >"$work/code.txt"
  if "$PYTHON" "$(dirname "$0")/../tests-interop/check_codes.py" live "$work/keys.json" "$work/code.txt" "$work/code.png" >"$work/interop.log"; then
    check "a live code verifies with pycose, expires, and its PNG decodes with zxing-cpp" 0 0
  else
    check "a live code verifies with pycose, expires, and its PNG decodes with zxing-cpp" 0 1; cat "$work/interop.log"
  fi
  "$bin" keys rotate --data-dir "$data" --alg ES256 >/dev/null
  sleep 3   # the server reloads its keys every 2 s
  curl -s "$base/.well-known/passby-keys.json" >"$work/keys.json"
  check "after keys rotate, the published set lists both code keys" 2 \
    "$(python3 -c "import json,sys; print(len([k for k in json.load(open(sys.argv[1]))['keys'] if k['use'] == 'sig']))" "$work/keys.json")"
  "$bin" dev code --data-dir "$data" >"$work/code.txt"
  if "$PYTHON" "$(dirname "$0")/../tests-interop/check_codes.py" live "$work/keys.json" "$work/code.txt" >"$work/interop.log"; then
    check "a code signed by the new ES256 key verifies with pycose" 0 0
  else
    check "a code signed by the new ES256 key verifies with pycose" 0 1; cat "$work/interop.log"
  fi
fi

# --- the ledger: sealed, provable, verified from the command line ---
"$bin" ledger seal --data-dir "$data" >/dev/null
check "passby ledger verify passes on an untouched ledger" 0 "$("$bin" ledger verify --data-dir "$data" >/dev/null; echo $?)"
check "passby ledger export-heads prints signed heads" yes "$("$bin" ledger export-heads --data-dir "$data" | grep -q '"signature"' && echo yes)"
"$bin" ledger purge --data-dir "$data" --before 2000-01-01 >/dev/null
check "a purge that touches nothing still leaves a verifying ledger" 0 "$("$bin" ledger verify --data-dir "$data" >/dev/null; echo $?)"
# A superuser who switches the guard off and edits an entry is caught.
"$pg_bin/psql" -q -h "$data/postgres" -U postgres -d passby \
  -c "ALTER TABLE ledger DISABLE TRIGGER ledger_no_update" -c "UPDATE ledger SET result = 'forged' WHERE seq = (SELECT min(seq) FROM ledger)" \
  -c "ALTER TABLE ledger ENABLE ALWAYS TRIGGER ledger_no_update"
tampered=$("$bin" ledger verify --data-dir "$data"; echo "exit=$?")
check "passby ledger verify names the edited entry and exits non-zero" "yes" \
  "$(case "$tampered" in *"its contents do not match its leaf hash"*"exit=1"*) echo yes ;; *) echo "$tampered" ;; esac)"

# --- privacy: no seeded or pushed ID number in plain text anywhere in the database ---
dump=$("$pg_bin/pg_dump" -h "$data/postgres" -U postgres passby)
leaks=0
for number in $(grep -oE '[0-9]{17}[0-9X]' "$work/serve.log" | sort -u) 11010519491231002X; do
  case "$dump" in *"$number"*) leaks=$((leaks + 1)) ;; esac
done
check "pg_dump holds none of the ID numbers in plain text" 0 "$leaks"
check "pg_dump does hold the masked forms" yes "$(case "$dump" in *"1101**********002X"*) echo yes ;; *) echo no ;; esac)"
check "the server log holds no ID number" 0 "$(grep -cE '[0-9]{17}[0-9X]' <(grep -v '^  ' "$work/serve.log"))"

# --- Ctrl-C stops the server and its PostgreSQL ---
stop_server
check "SIGINT stops the server cleanly" 0 "$?"
check "no postgres process is left behind" 0 "$(cluster_processes)"

# --- a second start reuses the data and does not seed again ---
keys_before=$(cat "$data/demo-keys.json")
start_server
check "the demo keys are unchanged on a second start" "$keys_before" "$(cat "$data/demo-keys.json")"
check "the demo gateway key still works" 200 "$(status_of -X PUT "$base/v1/health-statuses" -H "Authorization: Bearer $gateway" -d '[]')"
stop_server
check "seven clients after two starts (five demo, the web helper page's own, one added)" 7 "$("$bin" clients list --data-dir "$data" | wc -l)"
check "a command that started the cluster stops it again" 0 "$(cluster_processes)"

# --- a crash (server and PostgreSQL killed) leaves stale locks that the next start recovers ---
start_server
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=""
pkill -9 -f -- "-D $data/postgres"; sleep 1
check "a crash leaves postmaster.pid behind" yes "$([ -f "$data/postgres/postmaster.pid" ] && echo yes)"
start_server
check "the next start recovers and is ready" 200 "$(status_of "$base/readyz")"
stop_server

# Secrets never reach the log: the server secret, the signing keys' private parts, the ledger key.
leaked=0
for secret in "$(od -An -tx1 "$data/secret" | tr -d ' \n')" \
              $(python3 -c 'import json,sys; [print(json.load(open(p))["private_key"]) for p in sys.argv[1:]]' "$data"/keys/*.json); do
  [ -n "$secret" ] && grep -qF "$secret" "$work/serve.log" && leaked=$((leaked + 1))
done
check "no secret or private key appears in the server's log" 0 "$leaked"

echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

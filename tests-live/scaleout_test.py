"""Three `passby serve` instances, each with its own data directory, on one throwaway PostgreSQL
server, behind HAProxy (round robin): they must act as one service.

Checks that every instance publishes the same keys, that a grant made through one works through
the others, that 50 concurrent lookups of a single-use token spread over all three give exactly
one code, that a withdrawal, a client revocation, a staff account's disabling and a key rotation
take effect everywhere within their limits (2 s, and 5 s for keys), that a rate limit holds across
instances, and that a SIGKILL of one instance under load loses no acknowledged lookup while the
load balancer keeps serving.

Usage: scaleout_test.py PATH/TO/passby
"""

import base64
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests-interop"))
from check_codes import decode  # noqa: E402  the independent decoder
from live import PEOPLE, HAProxy, Passby, Person, Report, free_port, pg_bin  # noqa: E402

report = Report()
check, equal = report.check, report.equal
REQUESTER_LIMIT = 100


class PostgresServer:
    """A throwaway PostgreSQL server on a Unix socket, run as the `postgres` user, trusting its
    private socket: the one database every instance shares."""

    def __init__(self, binary, primary=None):
        """A new primary, or with `primary` a streaming replica of it made by pg_basebackup."""
        self.bin = pg_bin(binary)
        self.root = Path(tempfile.mkdtemp(prefix="passby-scaleout-pg."))
        self.root.chmod(0o755)
        self.data, self.socket = self.root / "data", self.root / "socket"
        for directory in (self.data, self.socket):
            directory.mkdir(mode=0o700)
            shutil.chown(directory, "postgres", "postgres")
        self.port = free_port()
        if primary:
            self.as_postgres("pg_basebackup", "-D", str(self.data), "-R", "-h", str(primary.socket), "-p", str(primary.port), "-U", "postgres")
        else:
            self.as_postgres("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
        self.as_postgres("pg_ctl", "-D", str(self.data), "-l", str(self.socket / "server.log"), "-w", "start", "-o",
                         f"-k {self.socket} -c listen_addresses='' -p {self.port} -c fsync=off -c max_connections=200")
        if not primary:
            self.psql("CREATE DATABASE passby", database="postgres")

    def as_postgres(self, tool, *args):
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / tool), *args], check=True, capture_output=True)

    def url(self, role):
        return f"postgres://{role}@localhost:{self.port}/passby?host={self.socket}&sslmode=disable"

    def psql(self, sql, database="passby"):
        return subprocess.run([str(self.bin / "psql"), "-h", str(self.socket), "-p", str(self.port), "-U", "postgres", "-d", database,
                               "-v", "ON_ERROR_STOP=1", "-q", "-At", "-c", sql], capture_output=True, text=True, check=True).stdout.strip()

    def halt(self):
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True)

    def stop(self):
        self.halt()
        shutil.rmtree(self.root, ignore_errors=True)


def within(seconds, condition):
    """Polls `condition` until it holds or `seconds` pass; returns how long it took, or None."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        if condition():
            return time.monotonic() - began
        time.sleep(0.05)
    return None


def published(instance):
    return json.dumps(instance.call("GET", "/.well-known/passby-keys.json")[1], sort_keys=True)


def main():
    binary = sys.argv[1]
    if not shutil.which("haproxy"):
        report.check("haproxy is installed (scripts/bootstrap.sh installs it)", False)
        sys.exit(report.summary("scaleout"))
    database = PostgresServer(binary)
    # The schema first, so that the replica starts with it; the instances then migrate nothing.
    subprocess.run([binary, "migrate"], env=dict(os.environ, DATABASE_URL=database.url("postgres")), check=True, capture_output=True)
    replica = PostgresServer(binary, primary=database)
    env = {"PASSBY_READ_DATABASE_URL": replica.url("passby_app"),"DATABASE_URL": database.url("postgres"), "PASSBY_APP_DATABASE_URL": database.url("passby_app"),
           "PASSBY_KEK": secrets.token_hex(32), "PASSBY_LOOKUPS_PER_MINUTE_REQUESTER": str(REQUESTER_LIMIT),
           "PASSBY_LOOKUPS_PER_MINUTE_SUBJECT": "100000", "PASSBY_CONSENT_FAILURES_PER_HOUR": "100000"}
    instances, balancer = [], None
    try:
        # The first instance migrates and stores the key material; the other two start together.
        instances.append(Passby(binary, env=dict(env, PASSBY_INSTANCE="i0")))
        for index in (1, 2):
            instances.append(Passby(binary, env=dict(env, PASSBY_INSTANCE=f"i{index}"), start=False))
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda instance: instance.start(), instances[1:]))
        balancer = HAProxy([instance.port for instance in instances])
        run_checks(database, replica, instances, balancer)
    finally:
        if balancer:
            balancer.stop()
        for instance in instances:
            instance.stop()
        replica.stop()
        database.stop()
    sys.exit(report.summary("scaleout"))


def run_checks(database, replica, instances, balancer):
    a, b, c = instances
    lb = balancer.via
    equal("each instance names itself on /readyz", ["i0", "i1", "i2"],
          [re.search(r"^instance (\S+)$", x.request("GET", "/readyz")[2].decode(), re.M).group(1) for x in instances])
    check("every instance publishes the same key set", published(a) == published(b) == published(c))
    check("a code key and the ledger key are published", {"sig", "ledger"} <= {k["use"] for k in json.loads(published(a))["keys"]})
    stranger = Passby(a.binary, env=dict(a.env, PASSBY_KEK=secrets.token_hex(32), PASSBY_INSTANCE="i9"), start=False)
    try:
        done = subprocess.run([stranger.binary, "serve", "--data-dir", str(stranger.data), "--port", str(free_port())], env=stranger.env,
                              capture_output=True, text=True, timeout=60)
        check("an instance with another key-encryption key refuses to start, naming PASSBY_KEK and the entry",
              done.returncode != 0 and "PASSBY_KEK" in done.stderr and "server-secret" in done.stderr, done.stderr[-300:])
    finally:
        stranger.stop()

    elder = Person("王秀英", a.subjects["elder"])
    guardian, passerby = PEOPLE["guardian"], PEOPLE["passerby"]
    # The development provider's key is shared too: an assertion minted through one instance works on all.
    as_guardian = dict(key=a.keys["demo-guardian"], assertion=b.assertion(guardian))
    as_helper = dict(key=c.keys["demo-helper"], assertion=a.assertion(passerby))
    status, registration = a.call("POST", "/v1/family-members", {"id_number": elder.id_number, "name": elder.name, "relationship": "parent"},
                                  **as_guardian)
    equal("a guardian registers the elder through instance 0", 202, status)
    b.confirm_guardian(guardian, elder.id_number)
    _, grant = c.call("POST", "/v1/consents", {"id_number": elder.id_number}, **as_guardian)
    status, looked = b.call("POST", "/v1/lookups", {"id_number": elder.id_number, "consent_token": grant["token"]}, **as_helper)
    equal("a grant made through instance 2 serves a lookup through instance 1", 201, status)
    staff = f"gate-{secrets.token_hex(3)}"
    a.cli("staff", "add", "--username", staff, stdin="scale-out-password\n")
    _, session = b.call("POST", "/v1/staff/sessions", {"username": staff, "password": "scale-out-password"})
    verdicts = [x.call("POST", "/v1/verifications", {"code": looked.get("code", "")}, key=session.get("token"))[1].get("verdict")
                for x in instances]
    equal("the code verifies on every instance, with a staff session made on instance 1", ["valid"] * 3, verdicts)

    # 50 lookups of one single-use token at once, round robin over the three.
    _, single = a.call("POST", "/v1/consents", {"id_number": elder.id_number, "max_uses": 1}, **as_guardian)
    with ThreadPoolExecutor(25) as pool:
        answers = list(pool.map(lambda _: lb.call("POST", "/v1/lookups", {"id_number": elder.id_number, "consent_token": single["token"]},
                                                  **as_helper), range(50)))
    statuses = [status for status, _ in answers]
    equal("50 concurrent lookups of a single-use token over three instances: exactly one code", 1, statuses.count(201))
    equal("the others are refused as used, none fails", {"consent-used"},
          {body.get("reason") for status, body in answers if status != 201})

    # A withdrawal through one instance stops the grant on the others at once.
    _, shared = a.call("POST", "/v1/consents", {"id_number": elder.id_number, "max_uses": 100}, **as_guardian)
    equal("a grant for many uses serves instance 2", 201,
          c.call("POST", "/v1/lookups", {"id_number": elder.id_number, "consent_token": shared["token"]}, **as_helper)[0])
    equal("the guardian withdraws it through instance 1", 204, b.request("DELETE", f"/v1/consents/{shared['id']}", **as_guardian)[0])
    equal("at once no instance issues a code on it", ["consent-withdrawn"] * 3,
          [x.call("POST", "/v1/lookups", {"id_number": elder.id_number, "consent_token": shared["token"]}, **as_helper)[1].get("reason")
           for x in instances])

    # A client revoked by the operator is refused by every instance within 2 s.
    client = json.loads(a.cli("clients", "add", "--name", "scale-helper", "--role", "helper", "--json"))
    body = {"id_number": elder.id_number, "consent_token": "0000-0000-0000-0000"}
    # An assertion is bound to the first client that sends it, so this client gets one of its own.
    fresh_assertion = b.assertion(passerby)
    known = [x.call("POST", "/v1/lookups", body, key=client["key"], assertion=fresh_assertion)[0] for x in instances]
    equal("the new helper key is known to every instance (its bogus token is refused, not its key)", [403] * 3, known)
    a.cli("clients", "revoke", client["id"])
    took = within(2, lambda: all(x.call("POST", "/v1/lookups", body, key=client["key"], assertion=fresh_assertion)[0] == 401
                                 for x in instances))
    check(f"a revoked client is refused by every instance within 2 s ({seconds(took)})", took is not None)

    # A disabled staff account's session stops on every instance within 2 s.
    c.cli("staff", "disable", staff)
    took = within(2, lambda: all(x.request("POST", "/v1/verifications", {"code": "PB1:x"}, key=session.get("token"))[0] == 401
                                 for x in instances))
    check(f"a disabled staff account's session is refused by every instance within 2 s ({seconds(took)})", took is not None)

    # A key rotated by the operator signs on every instance, and is published by all, within 5 s.
    before = published(a)
    rotated = a.cli("keys", "rotate", "--alg", "ES256").split()[0]
    took = within(5, lambda: all(rotated in published(x) for x in instances) and published(a) == published(b) == published(c))
    check(f"after keys rotate every instance publishes the same new set within 5 s ({seconds(took)})",
          took is not None and published(a) != before)
    _, fresh = a.call("POST", "/v1/consents", {"id_number": elder.id_number, "max_uses": 3}, **as_guardian)
    kids = []
    for x in instances:
        _, answer = x.call("POST", "/v1/lookups", {"id_number": elder.id_number, "consent_token": fresh["token"]}, **as_helper)
        kids.append(base64url(decode(answer.get("code", ""))[1].get(4, b"")) if answer.get("code") else None)
    equal("and every instance signs with it", [rotated] * 3, kids)

    # The server secret rotates under load-free traffic: announced, in force on every instance after
    # its delay, and every stored hash moved to it, without one plain ID number.
    _, before_rotation = b.call("POST", "/v1/consents", {"id_number": elder.id_number, "max_uses": 10}, **as_guardian)
    rotated_secret = a.cli("secret", "rotate", "--delay", "10")
    check("secret rotate announces v2 and moves every row to it", "v2 announced" in rotated_secret and "rows moved to v2" in rotated_secret,
          rotated_secret)
    check("no row is left under v1", re.search(r"^v1 .*rows: none$", rotated_secret, re.M) is not None, rotated_secret)
    equal("a grant made before the rotation serves every instance after it", [201] * 3,
          [x.call("POST", "/v1/lookups", {"id_number": elder.id_number, "consent_token": before_rotation["token"]}, **as_helper)[0]
           for x in instances])
    _, after_rotation = c.call("POST", "/v1/consents", {"id_number": elder.id_number, "max_uses": 10}, **as_guardian)
    equal("a grant made under v2 through instance 2 serves every instance (each holds v2)", [201] * 3,
          [x.call("POST", "/v1/lookups", {"id_number": elder.id_number, "consent_token": after_rotation["token"]}, **as_helper)[0]
           for x in instances])
    status_after = a.cli("secret", "status")
    check("secret status names v2 as current", re.search(r"^v2  current", status_after, re.M) is not None, status_after)

    # The requester limit holds across instances: per instance it would let all 150 through.
    other = PEOPLE["other_passerby"]
    as_other = dict(key=a.keys["demo-helper"], assertion=a.assertion(other))
    with ThreadPoolExecutor(6) as pool:
        reasons = list(pool.map(lambda _: lb.call("POST", "/v1/lookups", body, **as_other)[1].get("reason"), range(REQUESTER_LIMIT + 50)))
    equal(f"{REQUESTER_LIMIT + 50} lookups by one requester over three instances: {REQUESTER_LIMIT} pass the limit, 50 are rate-limited",
          {"consent-invalid": REQUESTER_LIMIT, "rate-limited": 50},
          {reason: reasons.count(reason) for reason in set(reasons)})

    reviewer_reads(database, replica, instances)
    sigkill_under_load(database, instances, lb, elder, as_guardian)

    # A guardianship removed through one instance stops its grants on the others at once.
    _, last = a.call("POST", "/v1/consents", {"id_number": elder.id_number, "max_uses": 10}, **as_guardian)
    equal("a grant through the guardianship serves instance 0", 201,
          a.call("POST", "/v1/lookups", {"id_number": elder.id_number, "consent_token": last["token"]}, **as_helper)[0])
    equal("the guardian removes the registration through instance 2", 204,
          c.request("DELETE", f"/v1/family-members/{registration['id']}", **as_guardian)[0])
    refusals = [x.call("POST", "/v1/lookups", {"id_number": elder.id_number, "consent_token": last["token"]}, **as_helper) for x in (a, c)]
    equal("at once neither remaining instance issues a code on its grant, the grant counting as withdrawn",
          [(403, "consent-withdrawn")] * 2, [(status, body.get("reason")) for status, body in refusals])

    # Three sealers took turns under one advisory lock: the tree and its heads are one.
    done = a.run("ledger", "verify")
    check("the ledger three instances wrote and sealed verifies", done.returncode == 0 and "the ledger verifies" in done.stdout,
          done.stdout[-500:] + done.stderr[-500:])


def reviewer_reads(database, replica, instances):
    """Reviewer queries come from the streaming replica while it keeps up, and from the primary
    once it is gone."""
    reviewer = json.loads(instances[0].cli("clients", "add", "--name", "scale-reviewer", "--role", "reviewer", "--json"))["key"]

    def sources():
        answers = [x.request("GET", "/v1/records?limit=5", key=reviewer) for x in instances]
        return [(status, headers.get("Passby-Read-Source")) for status, headers, _ in answers]

    took = within(5, lambda: sources() == [(200, "replica")] * 3)
    check(f"reviewer queries come from the replica on every instance ({seconds(took)})", took is not None, sources())
    instances[0].cli("ledger", "seal")
    head_size = int(database.psql("SELECT max(size) FROM ledger_heads"))
    replayed = within(5, lambda: replica.psql("SELECT coalesce(max(size), 0) FROM ledger_heads") == str(head_size))
    status, headers, body = instances[1].request("GET", f"/v1/records?limit=1000&size={head_size}", key=reviewer)
    check(f"the replica has replayed the newest head ({seconds(replayed)}), and a query bounded by it comes from the replica "
          f"with {head_size} entries", (status, headers.get("Passby-Read-Source"), len(json.loads(body)["records"])) ==
          (200, "replica", head_size), (status, headers.get("Passby-Read-Source")))
    check("the answer says how stale it may be, within PASSBY_READ_MAX_LAG_SECONDS",
          0 <= int(headers.get("Passby-Staleness-Seconds", "-1")) <= 5, headers.get("Passby-Staleness-Seconds"))
    replica.halt()
    # A read that races the outage waits up to PASSBY_DB_TIMEOUT_MS (5 s) before the primary
    # answers it; the monitor takes the replica out of use within about 2.5 s.
    took = within(12, lambda: sources() == [(200, "primary")] * 3)
    check(f"with the replica down, reviewers read from the primary ({seconds(took)})", took is not None, sources())


def sigkill_under_load(database, instances, lb, elder, as_guardian):
    """Lookups through the load balancer while one instance is killed: every acknowledged code is
    in the ledger, and the balancer goes on serving from the other two."""
    requester = PEOPLE["adult"]
    as_requester = dict(key=instances[0].keys["demo-helper"], assertion=instances[0].assertion(requester))
    grants = [instances[0].call("POST", "/v1/consents", {"id_number": elder.id_number, "max_uses": 100}, **as_guardian)[1] for _ in range(2)]
    acknowledged, failures, lock = [], [], threading.Lock()
    killed = threading.Event()
    after_kill = []

    def worker(index):
        for attempt in range(20):
            grant = grants[(index + attempt) % 2]
            status, answer = lookup(lb, elder.id_number, grant["token"], **as_requester)
            with lock:
                if status == 201:
                    acknowledged.append(decode(answer["code"])[2][7].hex())
                    if killed.is_set():
                        after_kill.append(status)
                else:
                    failures.append((status, answer.get("reason")))

    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(worker, index) for index in range(4)]
        within(10, lambda: len(acknowledged) >= 20)
        instances[1].kill()
        killed.set()
        for future in running:
            future.result()
    in_ledger = set(database.psql("SELECT encode(code_cti, 'hex') FROM ledger WHERE kind = 'lookup-issued'").split())
    check(f"a SIGKILL under load: every acknowledged lookup ({len(acknowledged)}) is in the ledger",
          len(acknowledged) >= 20 and set(acknowledged) <= in_ledger, f"{len(set(acknowledged) - in_ledger)} missing")
    check(f"the load balancer goes on serving after the kill ({len(after_kill)} codes after it)", len(after_kill) >= 10)
    check(f"at most the requests in flight at the kill failed ({failures})", len(failures) <= 4 and all(s in (502, 503) for s, _ in failures))


def seconds(took):
    return "never" if took is None else f"{took:.2f} s"


def base64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def lookup(via, id_number, token, **caller):
    """A lookup; returns (status, the JSON answer or {} when the answer is not JSON, as a load
    balancer's own 502 page is not)."""
    status, _, content = via.request("POST", "/v1/lookups", {"id_number": id_number, "consent_token": token}, **caller)
    try:
        return status, json.loads(content)
    except ValueError:
        return status, {}


if __name__ == "__main__":
    main()

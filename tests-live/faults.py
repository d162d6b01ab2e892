"""Fault injection against the real `passby`: the database stopped and slowed under load, the
process killed 20 times and terminated gracefully, and abusive clients. After each, it checks
what users rely on: every acknowledged lookup has its ledger record, no single-use token is
used twice, the ledger verifies, and the service is healthy again.

Usage: faults.py PATH/TO/passby [--abuse-only]
"""

import http.client
import json
import random
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests-interop"))
from check_codes import decode  # noqa: E402  the independent decoder, for the codes' cti
from live import PEOPLE, Passby, Report, pg_bin  # noqa: E402

PASSERBY = PEOPLE["passerby"]
SUBJECT = PEOPLE["elder"].id_number  # also the subject of `passby dev bench-seed`
PG_BIN = None  # set in main() from `passby dev pg-bin`

report = Report()
check = report.check
figures = {}


class Service:
    """A passby whose process and PostgreSQL the test may stop, slow and restart."""

    def __init__(self, passby):
        self.passby = passby
        self.cluster = passby.data / "postgres"
        self.key = passby.keys["demo-helper"]
        self.assertion = passby.assertion(PASSERBY)
        self.tokens = []
        self.answered = []  # (token, status, body) of every answered lookup
        self.lock = threading.Lock()

    def seed(self, count):
        path = self.passby.work / f"tokens-{len(self.tokens)}.txt"
        self.passby.cli("dev", "bench-seed", "--count", str(count), "--tokens", str(path))
        fresh = path.read_text().split()
        self.tokens.extend(fresh)
        return fresh

    def lookup(self, token, timeout=15):
        connection = http.client.HTTPConnection("127.0.0.1", self.passby.port, timeout=timeout)
        try:
            connection.request("POST", "/v1/lookups", json.dumps({"id_number": SUBJECT, "consent_token": token}),
                               {"Authorization": f"Bearer {self.key}", "Passby-Assertion": self.assertion,
                                "Content-Type": "application/json"})
            response = connection.getresponse()
            body = response.read()
            answer = (token, response.status, response.getheader("Content-Type", ""), body)
            with self.lock:
                self.answered.append(answer)
            return answer
        except (OSError, http.client.HTTPException):
            return (token, None, "", b"")
        finally:
            connection.close()

    def status(self, path, timeout=2):
        try:
            with urllib.request.urlopen(self.passby.base + path, timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return None

    def psql(self, sql):
        return self.passby.psql(sql)

    def pg_ctl(self, *args):
        return subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), *args, "-D", str(self.cluster)],
                              capture_output=True, text=True)

    def stop_database(self):
        self.pg_ctl("stop", "-m", "immediate", "-w")

    def start_database(self):
        # As EmbeddedCluster starts it: Unix socket only, in the cluster's own directory.
        started = self.pg_ctl("start", "-w", "-l", str(self.cluster / "restart.log"),
                              "-o", f"-k '{self.cluster}' -p 5432 -c listen_addresses=''")
        if started.returncode != 0:
            print(started.stdout, started.stderr)


class Load:
    """Threads sending lookups, each with a fresh single-use token, until stopped."""

    def __init__(self, service, tokens, threads=6):
        self.service, self.stopping = service, threading.Event()
        self.tokens, self.next = list(tokens), 0
        self.handout = threading.Lock()
        self.workers = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for worker in self.workers:
            worker.start()

    def run(self):
        while not self.stopping.is_set():
            with self.handout:
                if self.next >= len(self.tokens):
                    return
                token = self.tokens[self.next]
                self.next += 1
            self.service.lookup(token)

    def stop(self):
        self.stopping.set()
        for worker in self.workers:
            worker.join(timeout=30)
        return self.tokens[:self.next]


def issued_ctis(service):
    return set(service.psql("SELECT encode(code_cti, 'hex') FROM ledger WHERE kind = 'lookup-issued'").split())


def check_ledger(service, where):
    """Every 201 has its record; no grant was used beyond its uses; the ledger verifies."""
    acknowledged = [a for a in service.answered if a[1] == 201]
    recorded = issued_ctis(service)
    missing = [a for a in acknowledged if decode(json.loads(a[3])["code"])[2][7].hex() not in recorded]
    check(f"{where}: every acknowledged lookup ({len(acknowledged)}) has its ledger record", not missing,
          f"{len(missing)} lost: " + ", ".join(f"token {a[0]} cti {decode(json.loads(a[3])['code'])[2][7].hex()}" for a in missing[:3]))
    over = service.psql("SELECT count(*) FROM consent_grants WHERE uses > max_uses")
    twice = service.psql("SELECT count(*) FROM (SELECT grant_id FROM ledger WHERE kind = 'lookup-issued' "
                         "GROUP BY grant_id HAVING count(*) > 1) x")
    check(f"{where}: no single-use token was used twice", over == "0" and twice == "0", f"over={over} twice={twice}")
    per_token = {}
    for token, status, _, _ in service.answered:
        per_token[token] = per_token.get(token, 0) + (status == 201)
    check(f"{where}: no token got two codes", max(per_token.values(), default=0) <= 1)
    verify = subprocess.run([service.passby.binary, "ledger", "verify", "--data-dir", str(service.passby.data)],
                            capture_output=True, text=True, env=service.passby.env)
    check(f"{where}: passby ledger verify passes", verify.returncode == 0, verify.stdout[-300:] + verify.stderr[-300:])
    return len(acknowledged), len(missing)


def database_restart(service):
    tokens = service.seed(3000)
    probe_tokens = service.seed(300)
    before = len(service.answered)
    load = Load(service, tokens)
    time.sleep(1.5)
    service.stop_database()
    down = time.monotonic()
    ready_while_down = set()
    while time.monotonic() - down < 3:
        ready_while_down.add(service.status("/readyz"))
        time.sleep(0.2)
    service.start_database()
    restarted = time.monotonic()
    ready_at = lookup_at = None
    probes = iter(probe_tokens)
    while time.monotonic() - restarted < 15 and (ready_at is None or lookup_at is None):
        if ready_at is None and service.status("/readyz") == 200:
            ready_at = time.monotonic() - restarted
        if lookup_at is None and service.lookup(next(probes), timeout=3)[1] == 201:
            lookup_at = time.monotonic() - restarted
        time.sleep(0.05)
    time.sleep(1)
    load.stop()
    during = service.answered[before:]
    statuses = {a[1] for a in during}
    figures["database recovery (ready)"] = ready_at
    figures["database recovery (first lookup)"] = lookup_at
    check("database down: /readyz answers 503", 503 in ready_while_down and 200 not in ready_while_down, ready_while_down)
    check("database down: every lookup ends 201 or 503, never 500 or a hang", statuses <= {201, 503}, statuses)
    problems = [a for a in during if a[1] == 503]
    check(f"database down: every 503 ({len(problems)}) is a problem saying the database is unavailable",
          problems and all("problem+json" in a[2] and json.loads(a[3])["reason"] == "database-unavailable" for a in problems))
    check(f"database back: ready within 5 s ({ready_at and round(ready_at, 2)} s)", ready_at is not None and ready_at <= 5)
    check(f"database back: lookups succeed within 5 s ({lookup_at and round(lookup_at, 2)} s)", lookup_at is not None and lookup_at <= 5)
    check_ledger(service, "after the database restart")


def slow_database(service):
    tokens = service.seed(20)
    uses_before = service.psql("SELECT sum(uses) FROM consent_grants")
    # Another session holds the grants table for 3 s: every lookup's first query waits.
    holder = subprocess.Popen([str(PG_BIN / "psql"), "-h", str(service.cluster), "-U", "postgres", "-d", "passby", "-c",
                               "BEGIN; LOCK TABLE consent_grants IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=service.passby.pg_env())
    time.sleep(0.3)
    results, threads = [], []

    def timed(token):
        started = time.monotonic()
        answer = service.lookup(token)
        results.append((answer[1], time.monotonic() - started, answer))

    for token in tokens[:10]:
        threads.append(threading.Thread(target=timed, args=(token,)))
        threads[-1].start()
    for thread in threads:
        thread.join(timeout=30)
    holder.wait(timeout=30)
    slowest = max(r[1] for r in results)
    check("slow database: every lookup answers 503 after the 1 s timeout", all(r[0] == 503 for r in results) and len(results) == 10,
          [r[0] for r in results])
    check(f"slow database: none waits much longer than the timeout (slowest {slowest:.2f} s)", slowest < 2.5)
    time.sleep(0.5)
    stuck = service.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'passby_app' AND state = 'active' "
                         "AND now() - query_start > interval '1 second'")
    check("slow database: no database statement is left hanging", stuck == "0", stuck)
    check("slow database: statements were cancelled, so no token was used after its 503",
          service.psql("SELECT sum(uses) FROM consent_grants") == uses_before)
    answer = service.lookup(tokens[15])
    check("slow database: lookups work again once it is fast", answer[1] == 201, answer[1])


def kill_cycles(passby, service, cycles=20):
    tokens = service.seed(cycles * 150)
    acknowledged_before = sum(1 for a in service.answered if a[1] == 201)
    rng = random.Random(20261129)
    for cycle in range(cycles):
        if passby.process.poll() is not None:
            passby.restart()
        chunk = tokens[cycle * 150:(cycle + 1) * 150]
        load = Load(service, chunk)
        time.sleep(rng.uniform(0.4, 1.2))
        passby.process.kill()
        passby.process.wait()
        sent = load.stop()
        passby.restart()
        # A client that got no answer retries once without an Idempotency-Key: a token that was
        # used before the crash must now be refused, never served twice.
        answered_tokens = {a[0] for a in service.answered}
        for token in [t for t in sent if t not in answered_tokens]:
            service.lookup(token)
    acknowledged = sum(1 for a in service.answered if a[1] == 201) - acknowledged_before
    figures["kill cycles survived"] = cycles
    figures["lookups acknowledged during kill cycles"] = acknowledged
    total, lost = check_ledger(service, f"after {cycles} SIGKILLs under load")
    figures["records lost"] = lost
    check(f"{cycles} SIGKILL cycles: lookups were acknowledged in between ({acknowledged})", acknowledged > cycles)


def graceful_termination(passby, service):
    tokens = service.seed(10)
    holder = subprocess.Popen([str(PG_BIN / "psql"), "-h", str(service.cluster), "-U", "postgres", "-d", "passby", "-c",
                               "BEGIN; LOCK TABLE consent_grants IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(0.7); COMMIT;"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=service.passby.pg_env())
    time.sleep(0.2)
    results = []
    threads = [threading.Thread(target=lambda t=t: results.append(service.lookup(t))) for t in tokens[:5]]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    passby.process.terminate()
    for thread in threads:
        thread.join(timeout=30)
    holder.wait(timeout=30)
    code = passby.process.wait(timeout=30)
    check("SIGTERM: requests in flight are answered before exit", [r[1] for r in results] == [201] * 5, [r[1] for r in results])
    check("SIGTERM: passby exits 0", code == 0, code)
    passby.restart()


def abuse(passby, service):
    def raw(payload, read_timeout=5):
        with socket.create_connection(("127.0.0.1", passby.port), timeout=read_timeout) as sock:
            sock.sendall(payload)
            try:
                return sock.recv(65536)
            except OSError:
                return b""

    def healthy(where):
        check(f"{where}: the service is healthy afterwards", service.status("/healthz") == 200
              and service.lookup(service.seed(1)[0])[1] == 201)

    checkpoint = passby.keys["demo-checkpoint"]
    head = f"POST /v1/verifications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {checkpoint}\r\nContent-Type: application/json\r\n"

    # A body trickled one byte at a time: 408 once the body timeout (1.5 s here) passes.
    with socket.create_connection(("127.0.0.1", passby.port), timeout=10) as sock:
        sock.sendall((head + "Content-Length: 200\r\n\r\n").encode())
        started, answer = time.monotonic(), b""
        while time.monotonic() - started < 6 and not answer:
            try:
                sock.sendall(b" ")
                sock.settimeout(0.5)
                answer = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
        check(f"slow body: answered 408 after {time.monotonic() - started:.1f} s", answer.startswith(b"HTTP/1.1 408"), answer[:40])
    healthy("slow body")

    # A head trickled one byte every 0.5 s: bytes that do not complete a head do not count as
    # activity, so the 2 s idle timeout is the head's deadline and the connection closes then.
    with socket.create_connection(("127.0.0.1", passby.port), timeout=10) as sock:
        started, closed = time.monotonic(), False
        for byte in (head + "X-Slow: " + "a" * 100).encode():
            try:
                sock.sendall(bytes([byte]))
                sock.settimeout(0.5)
                if sock.recv(65536) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except OSError:
                closed = True
                break
            if time.monotonic() - started > 8:
                break
        elapsed = time.monotonic() - started
        check(f"slow headers: the connection is closed at the idle timeout, bytes arriving or not ({elapsed:.1f} s)",
              closed and 1.5 < elapsed < 4, elapsed)
    healthy("slow headers")

    # Thousands of idle connections: at most PASSBY_MAX_CONNECTIONS are taken, idle ones are closed.
    idle = []
    for _ in range(2000):
        try:
            sock = socket.socket()
            sock.settimeout(0.2)
            sock.connect(("127.0.0.1", passby.port))
            idle.append(sock)
        except OSError:
            sock.close()
    time.sleep(4)  # past the 2 s idle timeout
    closed = 0
    for sock in idle:
        try:
            sock.settimeout(0.01)
            closed += sock.recv(1) == b""
        except socket.timeout:
            pass
        except OSError:
            closed += 1
        sock.close()
    served = sum(1 for _ in range(3) if service.status("/healthz", timeout=5) == 200)
    check(f"idle connections: {len(idle)} opened; the idle ones accepted were closed ({closed})", closed >= 150, closed)
    check("idle connections: new requests are served meanwhile", served == 3)
    healthy("idle connections")

    # A flood from one requester: 429 with Retry-After once the per-requester limit is reached.
    flood = service.seed(40)
    answers = [service.lookup(token) for token in flood]
    limited = [a for a in answers if a[1] == 429]
    check(f"flood: the requester is limited after 20 lookups a minute ({len(limited)} of 40 got 429)",
          len(limited) >= 15 and all(json.loads(a[3])["reason"] == "rate-limited" for a in limited))
    service.assertion = passby.assertion(PEOPLE["other_passerby"])

    answer = raw((head + "X-Long: " + "a" * 100_000 + "\r\nContent-Length: 2\r\n\r\n{}").encode())
    check("very long headers: a 4xx, not a crash", answer[9:10] == b"4", answer[:40])
    healthy("very long headers")

    deep = ("[" * 100_000).encode()
    answer = raw((head + f"Content-Length: {len(deep)}\r\n\r\n").encode() + deep)
    check("deeply nested JSON: 400 or 413 problem", answer[9:12] in (b"400", b"413") and b"problem+json" in answer, answer[:60])
    healthy("deeply nested JSON")

    body = b'{"code":"PB1:\xff\xfe\x80"}'
    answer = raw((head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    check("non-UTF-8 bytes in a string: 400 problem", answer.startswith(b"HTTP/1.1 400") and b"malformed-request" in answer, answer[:60])

    big = b"{" + b" " * (10 * 1024 * 1024) + b"}"
    try:
        with socket.create_connection(("127.0.0.1", passby.port), timeout=10) as sock:
            sock.sendall((head + f"Content-Length: {len(big)}\r\n\r\n").encode())
            try:
                sock.sendall(big)
            except OSError:
                pass  # the server may close before taking it all
            answer = sock.recv(65536)
    except OSError as error:
        answer = str(error).encode()
    check("a 10 MB body: 413", answer.startswith(b"HTTP/1.1 413") and b"body-too-large" in answer, answer[:60])
    healthy("a 10 MB body")


def main():
    global PG_BIN
    binary = sys.argv[1]
    PG_BIN = pg_bin(binary)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    passby = Passby(binary, env={
        "PASSBY_DB_TIMEOUT_MS": "1000", "PASSBY_SEAL_SECONDS": "1", "PASSBY_BODY_TIMEOUT_MS": "1500", "PASSBY_IDLE_TIMEOUT_SECONDS": "2",

        "PASSBY_MAX_CONNECTIONS": "200", "PASSBY_LOOKUPS_PER_MINUTE_REQUESTER": "100000", "PASSBY_LOOKUPS_PER_MINUTE_SUBJECT": "100000",
    })
    service = Service(passby)
    try:
        if "--abuse-only" not in sys.argv:
            database_restart(service)
            slow_database(service)
            kill_cycles(passby, service)
        graceful_termination(passby, service)
        passby.stop_process()
        passby.env["PASSBY_LOOKUPS_PER_MINUTE_REQUESTER"] = "20"
        passby.restart()
        # Rate windows live in PostgreSQL and outlive a restart: the abuse phase starts from a fresh minute.
        passby.psql("DELETE FROM rate_windows")
        abuse(passby, service)
    finally:
        if report.failed:
            passby.log.seek(0)
            keep = Path(".build/test-output/faults")
            keep.mkdir(parents=True, exist_ok=True)
            (keep / "serve.log").write_text(passby.log.read())
            print(f"passby's log is in {keep / 'serve.log'}")
        passby.stop()
    for name, value in figures.items():
        print(f"figure: {name}: {value if not isinstance(value, float) else round(value, 2)}")
    sys.exit(report.summary("faults"))


if __name__ == "__main__":
    main()

"""The one launcher of the outside tests and the benchmark: a real `passby` on a throwaway data
directory, the test people, and a TAP-style report. The smoke test, the fault tests, the pages
test, the contract fuzzer and `make bench` all start passby through `Passby` here."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from functools import lru_cache
import signal
import time
import urllib.error
import urllib.request
from collections import namedtuple
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
Person = namedtuple("Person", "name id_number")
# The same people the Swift tests use, from the one shared file.
PEOPLE = {role: Person(p["name"], p["id_number"])
          for role, p in json.loads((ROOT / "Tests/people.json").read_text())["people"].items()}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@lru_cache
def pg_bin(passby):
    """PostgreSQL's binary directory, located by `passby dev pg-bin` exactly as passby locates it."""
    return Path(subprocess.run([str(passby), "dev", "pg-bin"], capture_output=True, text=True, check=True).stdout.strip())

class Report:
    """Named checks, printed as they run, TAP-style; `failed` decides the exit status. A check
    that cannot run is reported as skipped, with the reason, and counted in the summary."""

    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
            print(f"ok   - {name}")
        else:
            self.failed += 1
            print(f"FAIL - {name} {detail}")

    def equal(self, name, expected, actual):
        self.check(name, expected == actual, f"expected {expected!r}, got {actual!r}")

    def skip(self, name, reason):
        self.skipped += 1
        print(f"skip - {name}: {reason}")

    def summary(self, suite):
        """Prints the counts and returns the exit status."""
        print(f"{suite}: {self.passed} passed, {self.failed} failed, {self.skipped} skipped")
        return 1 if self.failed else 0


class Passby:
    """The real binary on a throwaway data directory. With `demo` (the default) it is seeded as
    `make run` seeds it; `start=False` leaves it stopped, for commands that need no server."""

    def __init__(self, binary, env=None, demo=True, start=True):
        self.binary = str(Path(binary).resolve())
        self.demo = demo
        self.work = Path(tempfile.mkdtemp(prefix="passby-live."))
        self.work.chmod(0o755)  # the embedded cluster runs as an unprivileged user
        self.data = self.work / "data"
        self.cluster = self.data / "postgres"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, **{"PASSBY_BCRYPT_COST": "4", "LOG_LEVEL": "warning", **(env or {})})
        self.log = open(self.work / "serve.log", "w+")
        self.process = None
        self.keys, self.subjects = {}, {}
        if start:
            self.start()

    def start(self, **env):
        """Starts the server on the data directory (with `env` added for this start) and waits
        until it is ready."""
        self.process = subprocess.Popen(
            [self.binary, "serve", *(["--demo"] if self.demo else []), "--data-dir", str(self.data), "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env=dict(self.env, **env))
        for _ in range(1200):
            if self.ready() or self.process.poll() is not None:
                break
            time.sleep(0.05)
        if self.process.poll() is not None or not self.ready():
            raise SystemExit("passby did not start:\n" + self.log_text()[-4000:])
        if self.demo and not self.keys:
            self.keys = json.loads((self.data / "demo-keys.json").read_text())
            self.subjects = dict(re.findall(r"^\s+(elder|child|adult)\s+(\S+)\s", self.log_text(), re.M))

    def log_text(self):
        self.log.flush()
        return (self.work / "serve.log").read_text()

    def ready(self):
        try:
            return urllib.request.urlopen(f"{self.base}/readyz", timeout=2).status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    def restart(self):
        """Starts the server again on the same data directory (after a kill or a stop)."""
        self.start()

    def stop_process(self, sig=signal.SIGTERM):
        """Stops the server with `sig` and returns its exit status (None if it was not running)."""
        if self.process is None or self.process.poll() is not None:
            return None
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)

    def kill(self):
        """Kills the server (SIGKILL); its PostgreSQL keeps running."""
        self.process.kill()
        self.process.wait()

    def cluster_pids(self):
        """The processes of this data directory's embedded PostgreSQL."""
        found = subprocess.run(["pgrep", "-f", f"-D {self.cluster}"], capture_output=True, text=True).stdout.split()
        return [int(pid) for pid in found]

    def stop(self):
        self.stop_process()
        # A killed server leaves its PostgreSQL running; stop it before removing its directory.
        if (self.cluster / "postmaster.pid").exists():
            pg_ctl = pg_bin(self.binary) / "pg_ctl"
            subprocess.run(["runuser", "-u", "postgres", "--", str(pg_ctl), "stop", "-m", "immediate", "-D", str(self.cluster)],
                           capture_output=True)
        self.log.close()
        shutil.rmtree(self.work, ignore_errors=True)

    def run(self, *args, stdin=None, data_dir=True):
        """Runs a `passby` command (on this data directory unless `data_dir` is false)."""
        return subprocess.run([self.binary, *args, *(["--data-dir", str(self.data)] if data_dir else [])], input=stdin,
                              env=self.env, capture_output=True, text=True)

    def cli(self, *args, stdin=None):
        """Runs a `passby` command on this data directory and returns its output; it must succeed."""
        done = self.run(*args, stdin=stdin)
        if done.returncode != 0:
            raise SystemExit(f"passby {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        return done.stdout

    def pg_env(self):
        """The environment for PostgreSQL's own tools as the embedded cluster's superuser, whose
        password Passby keeps in the cluster directory (the socket trusts nobody)."""
        secret = self.cluster / "passby-superuser.secret"
        # A cluster made by an older Passby has no password (so its checks can run against it).
        return {**os.environ, **({"PGPASSWORD": secret.read_bytes().hex()} if secret.exists() else {})}

    def psql(self, sql):
        """Runs SQL as the cluster's superuser and returns its unaligned output."""
        return subprocess.run([str(pg_bin(self.binary) / "psql"), "-h", str(self.cluster), "-U", "postgres", "-d", "passby",
                               "-v", "ON_ERROR_STOP=1", "-q", "-At", "-c", sql], capture_output=True, text=True, check=True,
                              env=self.pg_env()).stdout.strip()

    def request(self, method, path, body=None, key=None, assertion=None, raw=None):
        """Sends a request; returns (status, headers, body bytes). `raw` is sent as the body as is."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, method=method, data=data)
        request.add_header("Content-Type", "application/json")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        if assertion:
            request.add_header("Passby-Assertion", assertion)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def call(self, method, path, body=None, key=None, assertion=None, raw=None):
        """Sends a request; returns (status, the JSON body)."""
        status, _, content = self.request(method, path, body, key, assertion, raw)
        return status, json.loads(content or b"null")

    def confirm_guardian(self, guardian, subject_id_number, relationship="parent"):
        """The demo gateway confirms, as household-registry data would, that `guardian` (a Person)
        looks after the subject: a registration does nothing until someone confirms it."""
        status, body = self.call("POST", "/v1/guardianship-confirmations",
                                 {"guardian_id_number": guardian.id_number, "subject_id_number": subject_id_number,
                                  "relationship": relationship}, key=self.keys["demo-gateway"])
        assert status == 200, body
        return body

    def assertion(self, person):
        status, body = self.call("POST", "/web/dev-idp/assertions", {"name": person.name, "id_number": person.id_number})
        assert status == 201, body
        return body["assertion"]


class HAProxy:
    """Debian's HAProxy in the foreground, round robin over the instances, checking /readyz."""

    def __init__(self, ports):
        self.root = Path(tempfile.mkdtemp(prefix="passby-haproxy."))
        self.port = free_port()
        servers = "\n".join(f"    server i{index} 127.0.0.1:{port} check inter 500ms fall 2 rise 2" for index, port in enumerate(ports))
        (self.root / "haproxy.cfg").write_text(f"""
global
    maxconn 1024
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
frontend passby
    bind 127.0.0.1:{self.port}
    default_backend instances
backend instances
    balance roundrobin
    option httpchk GET /readyz
{servers}
""")
        self.log = open(self.root / "haproxy.log", "w+")
        self.process = subprocess.Popen(["haproxy", "-f", str(self.root / "haproxy.cfg"), "-db"], stdout=self.log, stderr=subprocess.STDOUT)
        self.via = Via(f"http://127.0.0.1:{self.port}")
        # Ready once it answers and its checks have found every instance up.
        for _ in range(200):
            try:
                if self.via.request("GET", "/healthz")[0] == 200:
                    time.sleep(1.5)
                    return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.05)
        log = (self.root / "haproxy.log").read_text()
        self.stop()
        raise SystemExit("haproxy did not start:\n" + log)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)


class Via:
    """Requests to one base URL (an instance or the load balancer), as `Passby` sends them."""
    request = Passby.request
    call = Passby.call

    def __init__(self, base):
        self.base = base

"""A real `passby` on a throwaway data directory, for the tests that drive it from outside."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path



def pg_bin(passby):
    """PostgreSQL's binary directory, located by `passby dev pg-bin` exactly as passby locates it."""
    return Path(subprocess.run([str(passby), "dev", "pg-bin"], capture_output=True, text=True, check=True).stdout.strip())

class Report:
    """Named checks, printed as they run, TAP-style; `failed` decides the exit status."""

    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
            print(f"ok   - {name}")
        else:
            self.failed += 1
            print(f"FAIL - {name} {detail}")


class Passby:
    """The real binary on a throwaway data directory."""

    def __init__(self, binary, env=None):
        self.binary = binary
        self.work = Path(tempfile.mkdtemp(prefix="passby-live."))
        self.work.chmod(0o755)  # the embedded cluster runs as an unprivileged user
        self.data = self.work / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, PASSBY_BCRYPT_COST="4", LOG_LEVEL="warning", **(env or {}))
        self.log = open(self.work / "serve.log", "w+")
        self.start()
        self.keys = json.loads((self.data / "demo-keys.json").read_text())
        self.log.seek(0)
        self.subjects = dict(re.findall(r"^\s+(elder|child|adult)\s+(\S+)\s", self.log.read(), re.M))

    def start(self):
        """Starts the server on the data directory and waits until it is ready."""
        self.process = subprocess.Popen(
            [self.binary, "serve", "--demo", "--data-dir", str(self.data), "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        for _ in range(1200):
            if self.ready() or self.process.poll() is not None:
                break
            time.sleep(0.1)
        if self.process.poll() is not None or not self.ready():
            self.log.seek(0)
            raise SystemExit("passby did not start:\n" + self.log.read()[-4000:])

    def ready(self):
        try:
            return urllib.request.urlopen(f"{self.base}/readyz", timeout=2).status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    def restart(self):
        """Starts the server again on the same data directory (after a kill or a stop)."""
        self.start()

    def stop_process(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def stop(self):
        self.stop_process()
        # A killed server leaves its PostgreSQL running; stop it before removing its directory.
        cluster = self.data / "postgres"
        if (cluster / "postmaster.pid").exists():
            pg_ctl = pg_bin(self.binary) / "pg_ctl"
            subprocess.run(["runuser", "-u", "postgres", "--", str(pg_ctl), "stop", "-m", "immediate", "-D", str(cluster)],
                           capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)

    def cli(self, *args, stdin=None):
        return subprocess.run([self.binary, *args, "--data-dir", str(self.data)], input=stdin, env=self.env,
                              capture_output=True, text=True, check=True).stdout

    def call(self, method, path, body=None, key=None, assertion=None):
        request = urllib.request.Request(self.base + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        if assertion:
            request.add_header("Passby-Assertion", assertion)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def assertion(self, person):
        status, body = self.call("POST", "/web/dev-idp/assertions", {"name": person[0], "id_number": person[1]})
        assert status == 201, body
        return body["assertion"]

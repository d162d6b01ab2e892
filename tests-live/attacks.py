"""Attacks on the real `passby`, one check per finding of the adversarial review (see
SECURITY.md). Each check asserts the honest refusal a stranger must get.

Usage: attacks.py PATH/TO/passby
"""

import json
import subprocess
import sys

from live import PEOPLE, Passby, Report, free_port

report = Report()
check, equal = report.check, report.equal


def development_provider(binary):
    """Finding 1: a plain `serve` must not trust or offer the development identity provider."""
    passby = Passby(binary, demo=False)
    try:
        passerby = PEOPLE["passerby"]
        status, body = passby.call("POST", "/web/dev-idp/assertions", {"name": passerby.name, "id_number": passerby.id_number})
        equal("plain serve: the demo sign-in is not offered (404)", 404, status)
        equal("plain serve: the helper page is told there is no demo sign-in", False,
              passby.call("GET", "/web/helper.json")[1].get("development_identity_provider"))
        forged = passby.cli("dev", "assertion", "--name", passerby.name, "--id", passerby.id_number).strip()
        helper = passby.cli("clients", "add", "--name", "attacker", "--role", "helper", "--json")
        key = json.loads(helper)["key"]
        status, body = passby.call("POST", "/v1/lookups", {"id_number": PEOPLE["elder"].id_number, "consent_token": "0000-0000-0000-0000"},
                                   key=key, assertion=forged)
        equal("plain serve: an assertion from the development provider is refused as untrusted", (401, "assertion-untrusted-issuer"),
              (status, body.get("reason")))
    finally:
        passby.stop()
    for host, why in (("0.0.0.0", "a wildcard address"), ("::", "the IPv6 wildcard")):
        passby = Passby(binary, start=False)
        try:
            try:
                done = subprocess.run([passby.binary, "serve", "--demo", "--data-dir", str(passby.data), "--host", host,
                                       "--port", str(free_port())], env=passby.env, capture_output=True, text=True, timeout=30)
                output = done.stderr + done.stdout
                check(f"serve --demo on {why} refuses to start and says why", done.returncode != 0 and "loopback" in output,
                      (done.returncode, output[-300:]))
            except subprocess.TimeoutExpired:
                check(f"serve --demo on {why} refuses to start and says why", False, "it started and served")
        finally:
            passby.stop()


def assertion_audience(binary):
    """Finding 6: an assertion made for another service must not work here."""
    passby = Passby(binary)
    try:
        passerby, elder = PEOPLE["passerby"], PEOPLE["elder"]
        elsewhere = subprocess.run([passby.binary, "dev", "assertion", "--data-dir", str(passby.data), "--name", passerby.name,
                                    "--id", passerby.id_number], env=dict(passby.env, PASSBY_ASSERTION_AUDIENCE="another-service"),
                                   capture_output=True, text=True, check=True).stdout.strip()
        body = {"id_number": elder.id_number, "consent_token": "0000-0000-0000-0000"}
        status, answer = passby.call("POST", "/v1/lookups", body, key=passby.keys["demo-helper"], assertion=elsewhere)
        equal("an assertion for another audience is refused (401 assertion-wrong-audience)", (401, "assertion-wrong-audience"),
              (status, answer.get("reason")))
        ours = passby.cli("dev", "assertion", "--name", passerby.name, "--id", passerby.id_number).strip()
        status, answer = passby.call("POST", "/v1/lookups", body, key=passby.keys["demo-helper"], assertion=ours)
        equal("and one for passby gets past the assertion check", (403, "consent-invalid"), (status, answer.get("reason")))
    finally:
        passby.stop()


def main():
    binary = sys.argv[1]
    development_provider(binary)
    assertion_audience(binary)
    sys.exit(report.summary("attacks"))


if __name__ == "__main__":
    main()

"""Attacks on the real `passby`, one check per finding of the adversarial review (see
SECURITY.md). Each check asserts the honest refusal a stranger must get.

Usage: attacks.py PATH/TO/passby
"""

import json
import re
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


def id_number(seventeen):
    """A GB 11643 number: the 17 digits and their check character."""
    total = sum(int(digit) * weight for digit, weight in zip(seventeen, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)))
    return seventeen + "10X98765432"[total % 11]


def same_mask(real, count):
    """Valid, eligible ID numbers that show the same mask as `real` (its first and last 4
    characters): the candidates an attacker holding the masked ID would try."""
    found = []
    for year in range(1940, 1960):
        for month in range(1, 13):
            for day in range(1, 29):
                candidate = id_number(f"{real[:6]}{year}{month:02}{day:02}{real[14:17]}")
                if candidate[-1] == real[-1] and candidate != real and len(found) < count:
                    found.append(candidate)
    return found


def spent_token(binary):
    """Finding 3: a consent token must not confirm, one guess at a time, whose ID number it is for."""
    passby = Passby(binary, env={"PASSBY_LOOKUPS_PER_MINUTE_REQUESTER": "1000", "PASSBY_LOOKUPS_PER_MINUTE_CLIENT": "1000"})
    try:
        elder = passby.subjects["elder"]
        name = re.search(r"^  elder +\S+ +(\S+)", passby.log_text(), re.M).group(1)
        as_guardian = dict(key=passby.keys["demo-guardian"], assertion=passby.assertion(PEOPLE["guardian"]))
        as_helper = dict(key=passby.keys["demo-helper"], assertion=passby.assertion(PEOPLE["passerby"]))
        equal("a guardian registers the elder", 201,
              passby.call("POST", "/v1/family-members", {"id_number": elder, "name": name, "relationship": "parent"}, **as_guardian)[0])
        guesses = same_mask(elder, 12)

        def lookup(token, number):
            status, body = passby.call("POST", "/v1/lookups", {"id_number": number, "consent_token": token}, **as_helper)
            return status, body.get("reason"), body.get("title"), body.get("detail")

        spent = passby.call("POST", "/v1/consents", {"id_number": elder}, **as_guardian)[1]["token"]
        check("the token serves one lookup", "code" in passby.call("POST", "/v1/lookups", {"id_number": elder, "consent_token": spent},
                                                                  **as_helper)[1])
        answers = {number: lookup(spent, number) for number in [elder, *guesses]}
        equal("a spent token answers the same for its subject's number and 12 guesses with the same mask",
              {(403, "consent-used")}, {answer[:2] for answer in answers.values()})
        check("word for word", len(set(answers.values())) == 1, answers)

        withdrawn = passby.call("POST", "/v1/consents", {"id_number": elder}, **as_guardian)[1]
        passby.request("DELETE", f"/v1/consents/{withdrawn['id']}", **as_guardian)
        equal("a withdrawn token answers the same for every number", {(403, "consent-withdrawn")},
              {lookup(withdrawn["token"], number)[:2] for number in [elder, *guesses[:4]]})

        live = passby.call("POST", "/v1/consents", {"id_number": elder}, **as_guardian)[1]["token"]
        tries = [lookup(live, number)[1] for number in guesses[:7]]
        equal("a live token answers 5 wrong numbers, then is locked", ["consent-wrong-subject"] * 5 + ["consent-locked"] * 2, tries)
        equal("once locked, its subject's own number gets no code", (403, "consent-locked"), lookup(live, elder)[:2])
    finally:
        passby.stop()


def captured_assertion(binary):
    """Finding 6: an assertion captured from one helper app must not work through another client key."""
    passby = Passby(binary)
    try:
        passerby, elder = PEOPLE["passerby"], PEOPLE["elder"]
        captured = passby.assertion(passerby)
        body = {"id_number": elder.id_number, "consent_token": "0000-0000-0000-0000"}
        status, answer = passby.call("POST", "/v1/lookups", body, key=passby.keys["demo-helper"], assertion=captured)
        equal("the helper app that received it uses it", (403, "consent-invalid"), (status, answer.get("reason")))
        other = json.loads(passby.cli("clients", "add", "--name", "attacker", "--role", "helper", "--json"))["key"]
        status, answer = passby.call("POST", "/v1/lookups", body, key=other, assertion=captured)
        equal("through another client key it is refused (401 assertion-other-client)", (401, "assertion-other-client"),
              (status, answer.get("reason")))
        passby.stop_process()
        passby.restart()
        status, answer = passby.call("POST", "/v1/lookups", body, key=other, assertion=captured)
        equal("and still after a restart: the binding is in PostgreSQL", (401, "assertion-other-client"), (status, answer.get("reason")))
        status, answer = passby.call("POST", "/v1/lookups", body, key=passby.keys["demo-helper"], assertion=captured)
        equal("while the first client goes on using it", (403, "consent-invalid"), (status, answer.get("reason")))
    finally:
        passby.stop()


def main():
    binary = sys.argv[1]
    development_provider(binary)
    assertion_audience(binary)
    spent_token(binary)
    captured_assertion(binary)
    sys.exit(report.summary("attacks"))


if __name__ == "__main__":
    main()

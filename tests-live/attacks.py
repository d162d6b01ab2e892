"""Attacks on the real `passby`, one check per finding of the adversarial review (see
SECURITY.md). Each check asserts the honest refusal a stranger must get.

Usage: attacks.py PATH/TO/passby
"""

import json
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
import subprocess
import sys

from live import PEOPLE, Passby, Report, free_port, pg_bin

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


def elder_name(passby):
    """The demo elder's name, as the walk-through prints it."""
    return re.search(r"^  elder +\S+ +(\S+)", passby.log_text(), re.M).group(1)


def family(passby):
    """The demo guardian, registered for the demo elder and confirmed by the demo gateway; returns
    the status of the registration and the guardian's request arguments."""
    elder = passby.subjects["elder"]
    as_guardian = dict(key=passby.keys["demo-guardian"], assertion=passby.assertion(PEOPLE["guardian"]))
    status = passby.call("POST", "/v1/family-members", {"id_number": elder, "name": elder_name(passby), "relationship": "parent"},
                         **as_guardian)[0]
    passby.confirm_guardian(PEOPLE["guardian"], elder)
    return status, as_guardian


def spent_token(binary):
    """Finding 3: a consent token must not confirm, one guess at a time, whose ID number it is for."""
    passby = Passby(binary, env={"PASSBY_LOOKUPS_PER_MINUTE_REQUESTER": "1000", "PASSBY_CONSENT_FAILURES_PER_HOUR": "1000"})
    try:
        elder = passby.subjects["elder"]
        status, as_guardian = family(passby)
        as_helper = dict(key=passby.keys["demo-helper"], assertion=passby.assertion(PEOPLE["passerby"]))
        equal("a guardian registers the elder, pending until the gateway confirms", 202, status)
        guesses = same_mask(elder, 12)

        def lookup(token, number):
            status, body = passby.call("POST", "/v1/lookups", {"id_number": number, "consent_token": token}, **as_helper)
            return status, body.get("reason"), body.get("title"), body.get("detail")

        unknown = lookup("0000-0000-0000-0000", elder)
        equal("an unknown token is consent-invalid", (403, "consent-invalid"), unknown[:2])
        spent = passby.call("POST", "/v1/consents", {"id_number": elder}, **as_guardian)[1]["token"]
        check("the token serves one lookup", "code" in passby.call("POST", "/v1/lookups", {"id_number": elder, "consent_token": spent},
                                                                  **as_helper)[1])
        answers = [lookup(spent, number) for number in guesses]
        equal("a spent token with 12 numbers of the same mask answers word for word as an unknown token", {unknown}, set(answers))
        equal("and after those, its own subject's number answers the same: the guesses locked it", unknown, lookup(spent, elder))

        live = passby.call("POST", "/v1/consents", {"id_number": elder}, **as_guardian)[1]["token"]
        equal("a live token with 6 wrong numbers answers as an unknown token", {unknown}, {lookup(live, n) for n in guesses[:6]})
        equal("then it is locked: its subject's number gets no code", unknown, lookup(live, elder))
    finally:
        passby.stop()
    passby = Passby(binary, env={"PASSBY_CONSENT_FAILURES_PER_HOUR": "3"})
    try:
        elder = passby.subjects["elder"]
        _, as_guardian = family(passby)
        good = passby.call("POST", "/v1/consents", {"id_number": elder}, **as_guardian)[1]["token"]
        as_helper = dict(key=passby.keys["demo-helper"], assertion=passby.assertion(PEOPLE["passerby"]))
        for token in ("0000-0000-0000-0000", "0000-0000-0000-0001", "0000-0000-0000-0002"):
            passby.call("POST", "/v1/lookups", {"id_number": elder, "consent_token": token}, **as_helper)
        status, headers, body = passby.request("POST", "/v1/lookups", {"id_number": elder, "consent_token": good}, **as_helper)
        equal("after 3 failed tries this hour a requester's good token is refused too (429 consent-attempts-exceeded)",
              (429, "consent-attempts-exceeded"), (status, json.loads(body).get("reason")))
        check("with Retry-After", "retry-after" in {name.lower() for name in headers}, headers)
        passby.stop_process()
        passby.restart()
        as_helper = dict(key=passby.keys["demo-helper"], assertion=passby.assertion(PEOPLE["passerby"]))
        status, body = passby.call("POST", "/v1/lookups", {"id_number": elder, "consent_token": good}, **as_helper)
        equal("the count is in PostgreSQL: a restart does not reset it", (429, "consent-attempts-exceeded"), (status, body.get("reason")))
    finally:
        passby.stop()


def ledger_flood(binary):
    """Finding 9: strangers cannot write the ledger, and bogus lookups cannot block a person."""
    passby = Passby(binary, env={"PASSBY_LOOKUPS_PER_MINUTE_SUBJECT": "2", "PASSBY_CONSENT_FAILURES_PER_HOUR": "1000"})
    try:
        elder = passby.subjects["elder"]

        def entries():
            return int(passby.psql("SELECT count(*) FROM ledger").strip())

        before = entries()
        body = {"id_number": elder, "consent_token": "0000-0000-0000-0000"}
        statuses = {passby.call("POST", "/v1/lookups", body, key=passby.keys["demo-helper"], assertion=assertion)[0]
                    for assertion in [None, "not.a.jws"] * 50}
        equal("100 lookups with no or a junk assertion are refused", {401}, statuses)
        equal("and write nothing to the ledger", before, entries())
        as_other = dict(key=passby.keys["demo-helper"], assertion=passby.assertion(PEOPLE["other_passerby"]))
        for _ in range(25):
            passby.call("POST", "/v1/lookups", body, **as_other)
        _, as_guardian = family(passby)
        token = passby.call("POST", "/v1/consents", {"id_number": elder, "max_uses": 2}, **as_guardian)[1]["token"]
        status, answer = passby.call("POST", "/v1/lookups", {"id_number": elder, "consent_token": token}, key=passby.keys["demo-helper"],
                                     assertion=passby.assertion(PEOPLE["passerby"]))
        equal("25 bogus lookups of a person by someone else leave their real lookup alone", 201, status)
    finally:
        passby.stop()


def declared_guardian(binary):
    """Finding 4: knowing a name and an ID number must not make anyone a guardian."""
    passby = Passby(binary)
    try:
        elder = passby.subjects["elder"]
        name = elder_name(passby)
        stranger = dict(key=passby.keys["demo-guardian"], assertion=passby.assertion(PEOPLE["other_passerby"]))
        status, body = passby.call("POST", "/v1/family-members", {"id_number": elder, "name": name, "relationship": "child"}, **stranger)
        equal("a stranger's registration with the right name is only pending (202)", (202, "pending"), (status, body.get("status")))
        equal("and grants nothing", (403, "not-a-guardian"),
              (lambda r: (r[0], r[1].get("reason")))(passby.call("POST", "/v1/consents", {"id_number": elder}, **stranger)))
        equal("nor saves the person's offline card", (403, "not-a-guardian"),
              (lambda r: (r[0], r[1].get("reason")))(passby.call("POST", "/v1/offline-codes", {"id_number": elder}, **stranger)))
        other = dict(key=passby.keys["demo-guardian"], assertion=passby.assertion(PEOPLE["passerby"]))
        wrong = passby.call("POST", "/v1/family-members", {"id_number": elder, "name": "张三", "relationship": "child"}, **other)
        unknown = passby.call("POST", "/v1/family-members", {"id_number": PEOPLE["unknown_elder"].id_number, "name": "张三",
                                                             "relationship": "child"}, **other)
        equal("a wrong name and an unknown person answer as the right name does", {(202, "pending")},
              {(wrong[0], wrong[1].get("status")), (unknown[0], unknown[1].get("status"))})
        for guardian in ("guardian", "passerby", "other_passerby"):
            passby.call("POST", "/v1/family-members", {"id_number": elder, "name": name, "relationship": "child"},
                        key=passby.keys["demo-guardian"], assertion=passby.assertion(PEOPLE[guardian]))
        passby.confirm_guardian(PEOPLE["guardian"], elder)
        family = dict(key=passby.keys["demo-guardian"], assertion=passby.assertion(PEOPLE["guardian"]))
        status, _ = passby.call("POST", "/v1/consents", {"id_number": elder}, **family)
        equal("strangers' pending registrations take no place: the confirmed family grants", 201, status)
        own = passby.call("GET", "/v1/family-members", **family)[1]["family_members"][0]["id"]
        seen = passby.call("GET", f"/v1/family-members/{own}/guardians", **family)[1]["guardians"]
        check("the family sees the strangers' registrations", len(seen) == 3, seen)
        for entry in seen:
            if entry["status"] == "pending":
                passby.request("DELETE", f"/v1/family-members/{entry['id']}", **family)
        left = passby.call("GET", f"/v1/family-members/{own}/guardians", **family)[1]["guardians"]
        equal("and removes them", ["confirmed"], [entry["status"] for entry in left])
    finally:
        passby.stop()


def oracles(binary):
    """Finding 7: refusals reveal nothing the caller may not know."""
    passby = Passby(binary)
    try:
        elder = passby.subjects["elder"]
        terminal = passby.keys["demo-terminal"]
        wrong = passby.call("POST", "/v1/terminal/identify", {"method": "id-card", "id_number": elder, "name": "张三"}, key=terminal)
        unknown = passby.call("POST", "/v1/terminal/identify", {"method": "id-card", "id_number": PEOPLE["unknown_elder"].id_number,
                                                                "name": "张三"}, key=terminal)
        equal("a terminal's wrong name answers word for word as an unknown person", unknown, wrong)
        print_url = "/v1/offline-codes/00000000-0000-4000-8000-000000000000/print"
        status, _, _ = passby.request("GET", print_url, key=passby.keys["demo-guardian"])
        equal("a guardian's print without an assertion is 401 before the id is looked at", 401, status)
        helper = dict(key=passby.keys["demo-helper"], assertion=passby.assertion(PEOPLE["passerby"]))
        for number in (PEOPLE["unknown_elder"].id_number, elder, elder, elder):
            passby.call("POST", "/v1/consents/attested", {"id_number": number, "statement": "yes"}, **helper)
        status, body = passby.call("POST", "/v1/consents/attested", {"id_number": PEOPLE["unknown_elder"].id_number, "statement": "yes"},
                                   **helper)
        equal("past the attested limit even an unknown person is 429, not unknown-subject", (429, "rate-limited"),
              (status, body.get("reason")))
        refused = passby.psql("SELECT count(*) FROM ledger WHERE kind IN ('grant-refused', 'family-member-refused', 'offline-code-refused')")
        check("these refusals of known callers are in the ledger", int(refused) >= 2, refused)
    finally:
        passby.stop()


def staff_login(binary):
    """Finding 5: staff login must not leak usernames, race its lock, lock forever or keep sessions."""
    passby = Passby(binary, env={"PASSBY_BCRYPT_COST": "10", "PASSBY_STAFF_LOCK_SECONDS": "3", "PASSBY_STAFF_IDLE_SECONDS": "3",
                                 "PASSBY_STAFF_LOGINS_PER_MINUTE": "1000"})
    try:
        for name in ("gate-a", "gate-b", "gate-c"):
            passby.cli("staff", "add", "--username", name, stdin="right-password\n")

        def login(username, password):
            started = time.monotonic()
            status, body = passby.call("POST", "/v1/staff/sessions", {"username": username, "password": password})
            return status, body, time.monotonic() - started

        # Interleaved, so that a noisy moment hits both; the ratio is about 1, or about 60 with a cheaper decoy.
        known, unknown = [], []
        for index in range(6):
            unknown.append(login(f"nobody-{index}", "guess")[2])
            known.append(login("gate-c", f"guess {index}")[2] if index < 4 else login("gate-c", "right-password")[2])
        ratio = statistics.median(known) / statistics.median(unknown)
        check("an unknown username costs as much as a known one (bcrypt at the configured cost)", ratio < 4, f"known/unknown = {ratio:.1f}")

        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(lambda index: login("gate-a", f"guess {index}")[1].get("reason"), range(12)))
        check("12 guesses at once: at most the limit of 5 are checked, the rest locked out",
              answers.count("invalid-login") <= 5 and answers.count("login-locked") >= 7, answers)

        reasons = []
        for index in range(7):
            if index:
                time.sleep(3.2)
            reasons.append(login("gate-b", f"slow guess {index}")[1].get("reason"))
        equal("one wrong try per lock length is only ever a wrong password", ["invalid-login"] * 7, reasons)
        status, session, _ = login("gate-b", "right-password")
        equal("and the owner, right after the last one, gets in: failures decay, no lock", 201, status)
        token = session.get("token", "")
        equal("a fresh session verifies", 200, passby.request("POST", "/v1/verifications", {"code": "PB1:X"}, key=token)[0])
        status, _, _ = passby.request("DELETE", "/v1/staff/sessions", key=token)
        equal("signing out answers 204", 204, status)
        equal("and the session is dead at once", 401, passby.request("POST", "/v1/verifications", {"code": "PB1:X"}, key=token)[0])
        token = login("gate-b", "right-password")[1].get("token", "")
        time.sleep(3.5)
        equal("a session unused for the idle time is dead", 401, passby.request("POST", "/v1/verifications", {"code": "PB1:X"}, key=token)[0])
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


def ledger_integrity(binary):
    """Finding 8: nothing that reaches the embedded cluster's socket comes in without a password,
    and an entry that commits late is sealed all the same."""
    passby = Passby(binary)
    try:
        for role in ("postgres", "passby_app"):
            env = {k: v for k, v in passby.env.items() if k != "PGPASSWORD"}
            done = subprocess.run([str(pg_bin(passby.binary) / "psql"), "-h", str(passby.cluster), "-U", role, "-d", "passby", "-w",
                                   "-At", "-c", "SELECT 1"], env=env, capture_output=True, text=True)
            check(f"the embedded cluster refuses {role} without a password", done.returncode != 0 and "password" in done.stderr,
                  (done.returncode, done.stdout, done.stderr[-200:]))
        hba = (passby.cluster / "pg_hba.conf").read_text()
        check("pg_hba.conf has no trust line", not any(line.split()[-1:] == ["trust"] for line in hba.splitlines()
                                                      if line.strip() and not line.startswith("#")), hba[-300:])
        # A transaction takes its number, then 10,001 later entries commit and are sealed first:
        # it waits on an advisory lock this test holds until then.
        lock = subprocess.Popen([str(pg_bin(passby.binary) / "psql"), "-h", str(passby.cluster), "-U", "postgres", "-d", "passby",
                                 "-c", "SELECT pg_advisory_lock(4242); SELECT pg_sleep(60);"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=passby.pg_env())
        time.sleep(1)
        held = subprocess.Popen([str(pg_bin(passby.binary) / "psql"), "-h", str(passby.cluster), "-U", "postgres", "-d", "passby",
                                 "-c", "BEGIN; INSERT INTO ledger (kind, result) VALUES ('verification', 'late'); "
                                       "SELECT pg_advisory_lock(4242); COMMIT;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=passby.pg_env())
        time.sleep(1)
        passby.psql("INSERT INTO ledger (kind, result) SELECT 'verification', 'valid' FROM generate_series(1, 10001)")
        passby.cli("ledger", "seal")
        equal("the late entry was still uncommitted when the later ones were sealed", "0",
              passby.psql("SELECT count(*) FROM ledger WHERE result = 'late'"))
        passby.psql("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND granted")
        lock.wait(timeout=30)
        held.wait(timeout=30)
        passby.cli("ledger", "seal")
        done = passby.run("ledger", "verify")
        check("an entry that committed after 10,001 later ones were sealed is sealed too", done.returncode == 0
              and "not sealed" not in done.stdout + done.stderr, (done.stdout + done.stderr)[-300:])
        sealed = passby.psql("SELECT count(*) FROM ledger l JOIN ledger_tree t USING (seq) WHERE l.result = 'late'")
        equal("the late entry has a leaf", "1", sealed)
    finally:
        passby.stop()


def key_revocation(binary):
    """Also found: a code-signing key could not be revoked after a compromise. A revoked key's
    codes, printed cards included, must fail at once on a running server."""
    passby = Passby(binary)
    try:
        card = {"method": "id-card", "id_number": passby.subjects["elder"], "name": elder_name(passby)}
        terminal, checkpoint = passby.keys["demo-terminal"], passby.keys["demo-checkpoint"]
        status, issued = passby.call("POST", "/v1/offline-codes", card, key=terminal)
        equal("a card is issued", 201, status)
        verdict = lambda code: passby.call("POST", "/v1/verifications", {"code": code}, key=checkpoint)[1].get("verdict")
        equal("it verifies", "valid", verdict(issued["code"]))
        kid = passby.cli("keys", "list").split()[0]
        output = passby.cli("keys", "revoke", kid)
        check("keys revoke names the key that now signs", "is now the active key" in output, output)
        time.sleep(3)  # a running server reloads its keys within 2 s
        equal("the compromised key's card now fails as signed by an unknown key", "unknown-key", verdict(issued["code"]))
        published = [key["kid"] for key in passby.call("GET", "/.well-known/passby-keys.json")[1]["keys"]]
        check("the revoked key is no longer published", kid not in published and published, published)
        status, again = passby.call("POST", "/v1/offline-codes/replace", card, key=terminal)
        equal("a new card, signed by the new key, verifies", (201, "valid"), (status, verdict(again.get("code", ""))))
    finally:
        passby.stop()


def main():
    binary = sys.argv[1]
    development_provider(binary)
    assertion_audience(binary)
    spent_token(binary)
    ledger_flood(binary)
    declared_guardian(binary)
    oracles(binary)
    staff_login(binary)
    captured_assertion(binary)
    ledger_integrity(binary)
    key_revocation(binary)
    sys.exit(report.summary("attacks"))


if __name__ == "__main__":
    main()

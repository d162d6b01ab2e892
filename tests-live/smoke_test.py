"""End-to-end smoke test of the real `passby` binary on its embedded PostgreSQL, the way
`make run` starts it: the commands that need no server, readiness, the health-status API, the
consent flow, offline codes checked from outside (pycose, zxing-cpp), key rotation, the ledger,
privacy of the stored data and the log, clean shutdown, restart without re-seeding, and
recovery from a crash.

Usage: smoke_test.py PATH/TO/passby
"""

import base64
import json
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import zxingcpp
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests-interop"))
from check_codes import decode, verify  # noqa: E402  the independent decoder and verifier
from live import PEOPLE, Passby, Report, pg_bin  # noqa: E402

report = Report()
check, equal = report.check, report.equal


def commands_without_server(passby):
    done = passby.run("id", "inspect", "110105491231002", "--on", "2026-11-29", data_dir=False)
    equal("passby id inspect exits 0 for a valid number", 0, done.returncode)
    answer = json.loads(done.stdout)
    equal("and prints the normalized number and group", ("11010519491231002X", "elder"), (answer["normalized"], answer["group"]))
    done = passby.run("id", "inspect", "110105194912310021", data_dir=False)
    equal("passby id inspect exits 1 and names the reason for an invalid one", (1, "checksum"),
          (done.returncode, json.loads(done.stdout)["reason"]))
    done = passby.run("migrate")
    equal("passby migrate starts the cluster for itself and leaves it stopped", (0, []), (done.returncode, passby.cluster_pids()))


def health_statuses(passby):
    gateway, helper = passby.keys["demo-gateway"], passby.keys["demo-helper"]
    equal("GET /healthz", 200, passby.request("GET", "/healthz")[0])
    equal("the walk-through names the demo elder", 18, len(passby.subjects.get("elder", "")))
    equal("PUT without a key: 401", 401, passby.request("PUT", "/v1/health-statuses", [])[0])
    equal("PUT with a helper's key: 403", 403, passby.request("PUT", "/v1/health-statuses", [], key=helper)[0])
    status, headers, _ = passby.request("PUT", "/v1/health-statuses", raw=b"[{", key=gateway)
    equal("PUT with malformed JSON: 400", 400, status)
    equal("malformed JSON is answered as problem+json", "application/problem+json", headers.get("Content-Type"))
    batch = [{"id_number": "11010519491231002X", "name": "赵大爷", "status": "green", "as_of": "2026-01-02T00:00:00Z"},
             {"id_number": "110105194912310021", "name": "钱奶奶", "status": "red", "as_of": "2026-01-02T00:00:00Z"}]
    _, answer = passby.call("PUT", "/v1/health-statuses", batch, key=gateway)
    equal("a batch with one bad ID number: the rest accepted, the bad one rejected with its reason",
          [("accepted", None), ("rejected", "checksum")], [(r["result"], r.get("reason")) for r in answer["results"]])
    big = [{"id_number": "11010519491231002X", "name": "x", "status": "green", "as_of": "2026-01-01T00:00:00Z"}] * 1000
    equal("a body over the limit: 413", 413, passby.request("PUT", "/v1/health-statuses", big, key=gateway)[0])

    # The CLI reaches the running server's cluster; revocation takes effect at once.
    client = json.loads(passby.cli("clients", "add", "--name", "smoke-gateway", "--role", "gateway", "--json"))
    equal("a new client's key works", 200, passby.request("PUT", "/v1/health-statuses", [], key=client["key"])[0])
    passby.cli("clients", "revoke", client["id"])
    equal("a revoked key gets 401 at once", 401, passby.request("PUT", "/v1/health-statuses", [], key=client["key"])[0])


def consent_flow(passby):
    """The consent flow with the API and the CLI alone; returns the lookup's display code."""
    guardian_key, helper_key = passby.keys["demo-guardian"], passby.keys["demo-helper"]
    elder = passby.subjects["elder"]
    elder_name = re.search(r"^  elder +\S+ +(\S+)", passby.log_text(), re.M).group(1)
    as_guardian = dict(key=guardian_key, assertion=passby.cli("dev", "assertion", "--name", PEOPLE["guardian"].name,
                                                              "--id", PEOPLE["guardian"].id_number).strip())
    as_helper = dict(key=helper_key, assertion=passby.cli("dev", "assertion", "--name", PEOPLE["passerby"].name,
                                                          "--id", PEOPLE["passerby"].id_number).strip())
    status, _ = passby.call("POST", "/v1/family-members", {"id_number": elder, "name": elder_name, "relationship": "parent"}, **as_guardian)
    equal("a guardian registers a family member; it is pending", 202, status)
    passby.confirm_guardian(PEOPLE["guardian"], elder)
    _, first = passby.call("POST", "/v1/consents", {"id_number": elder}, **as_guardian)
    equal("the guardian withdraws a grant", 204, passby.request("DELETE", f"/v1/consents/{first['id']}", **as_guardian)[0])

    def lookup(token):
        return passby.call("POST", "/v1/lookups", {"id_number": elder, "consent_token": token}, **as_helper)[1]

    equal("a lookup on the withdrawn grant is refused", "consent-withdrawn", lookup(first["token"]).get("reason"))
    _, second = passby.call("POST", "/v1/consents", {"id_number": elder}, **as_guardian)
    code = lookup(second["token"]).get("code", "")
    equal("a helper looks up with the new token", "PB1:", code[:4])
    equal("the same single-use token again is refused", "consent-used", lookup(second["token"]).get("reason"))
    return code, elder, elder_name, as_guardian


def offline_codes(passby, elder, elder_name, as_guardian):
    passby.cli("staff", "add", "--username", "gate-1", stdin="smoke-test-password\n")
    status, session = passby.call("POST", "/v1/staff/sessions", {"username": "gate-1", "password": "smoke-test-password"})
    token = session.get("token", "")
    equal("staff log in with username and password", "pbs_", token[:4])
    equal("a wrong password gets 401", 401, passby.request("POST", "/v1/staff/sessions", {"username": "gate-1", "password": "nope-nope"})[0])

    def verdict(code):
        return passby.call("POST", "/v1/verifications", {"code": code}, key=token)[1].get("verdict")

    _, saved = passby.call("POST", "/v1/offline-codes", {"id_number": elder}, **as_guardian)
    equal("staff verify the saved offline code", "valid", verdict(saved["code"]))
    status, _, png = passby.request("GET", saved["print_url"] + "?format=png", **as_guardian)
    card = passby.work / "card.png"
    card.write_bytes(png)
    printed = [r.text for r in zxingcpp.read_barcodes(Image.open(card), formats=zxingcpp.BarcodeFormat.QRCode)]
    equal("the printed card's QR decodes with zxing-cpp to the saved code", [saved["code"]], printed)

    # A terminal replaces it: the old code is refused as replaced, yet its signature is as good as ever.
    _, replaced = passby.call("POST", "/v1/offline-codes/replace", {"method": "id-card", "id_number": elder, "name": elder_name},
                              key=passby.keys["demo-terminal"])
    equal("after a replace the old offline code verifies as replaced", "replaced", verdict(saved["code"]))
    equal("and the new one as valid", "valid", verdict(replaced["code"]))
    keys = passby.call("GET", "/.well-known/passby-keys.json")[1]
    now = int(time.time())
    equal("pycose verifies both offline codes' signatures", [(True, True, "offline")] * 2,
          [verify(code, keys, now, 2)[1:4] for code in (saved["code"], replaced["code"])])
    passby.cli("staff", "disable", "gate-1")
    equal("a disabled staff member's session stops at once", 401, passby.request("POST", "/v1/verifications", {"code": "x"}, key=token)[0])


def codes_from_outside(passby, lookup_code):
    """Codes from this server, checked with pycose and zxing-cpp; then a key rotation."""

    def live(name, code, keys):
        claims = decode(code)[2]
        equal(f"{name}: verifies with pycose against the published keys", (True, True, True), verify(code, keys, int(time.time()), 2)[:3])
        equal(f"{name}: stops verifying 10 s + skew after issue", "expired", verify(code, keys, claims[6] + 13, 2)[4])

    keys = passby.call("GET", "/.well-known/passby-keys.json")[1]
    live("the lookup's display code", lookup_code, keys)
    png = passby.work / "code.png"
    code = passby.cli("dev", "code", "--qr", str(png)).strip()
    live("a code from passby dev code", code, keys)
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(png), formats=zxingcpp.BarcodeFormat.QRCode)]
    equal("its PNG decodes with zxing-cpp to the same code", [code], decoded)

    passby.cli("keys", "rotate", "--alg", "ES256")
    time.sleep(3)  # the server reloads its keys every 2 s
    keys = passby.call("GET", "/.well-known/passby-keys.json")[1]
    equal("after keys rotate, the published set lists both code keys", 2, len([k for k in keys["keys"] if k["use"] == "sig"]))
    live("a code signed by the new ES256 key", passby.cli("dev", "code").strip(), keys)


def ledger(passby):
    passby.cli("ledger", "seal")
    equal("passby ledger verify passes on an untouched ledger", 0, passby.run("ledger", "verify").returncode)
    check("passby ledger export-heads prints signed heads", '"signature"' in passby.cli("ledger", "export-heads"))
    passby.cli("ledger", "purge", "--before", "2000-01-01")
    equal("a purge that touches nothing still leaves a verifying ledger", 0, passby.run("ledger", "verify").returncode)
    # A superuser who switches the guard off and edits an entry is caught.
    passby.psql("ALTER TABLE ledger DISABLE TRIGGER ledger_no_update; "
                "UPDATE ledger SET result = 'forged' WHERE seq = (SELECT min(seq) FROM ledger); "
                "ALTER TABLE ledger ENABLE ALWAYS TRIGGER ledger_no_update")
    done = passby.run("ledger", "verify")
    check("passby ledger verify names the edited entry and exits non-zero",
          done.returncode == 1 and "its contents do not match its leaf hash" in done.stdout + done.stderr, done.stdout[-400:])


def privacy(passby):
    dump = subprocess.run([str(pg_bin(passby.binary) / "pg_dump"), "-h", str(passby.cluster), "-U", "postgres", "passby"],
                          capture_output=True, text=True, check=True, env=passby.pg_env()).stdout
    log = passby.log_text()
    numbers = set(re.findall(r"[0-9]{17}[0-9X]", log)) | {"11010519491231002X"} | {p.id_number for p in PEOPLE.values()}
    equal("pg_dump holds none of the ID numbers in plain text", [], sorted(n for n in numbers if n in dump))
    check("pg_dump does hold the masked forms", "1101**********002X" in dump)
    # The walk-through printed at start (indented lines) names the demo people on purpose.
    logged = [line for line in log.splitlines() if not line.startswith("  ") and re.search(r"[0-9]{17}[0-9X]", line)]
    equal("the server log holds no ID number", [], logged)


def lifecycle(passby):
    equal("SIGINT stops the server cleanly", 0, passby.stop_process(signal.SIGINT))
    equal("no postgres process is left behind", [], passby.cluster_pids())

    keys_before = (passby.data / "demo-keys.json").read_text()
    passby.start()
    equal("the demo keys are unchanged on a second start", keys_before, (passby.data / "demo-keys.json").read_text())
    equal("the demo gateway key still works", 200, passby.request("PUT", "/v1/health-statuses", [], key=passby.keys["demo-gateway"])[0])
    passby.stop_process(signal.SIGINT)
    equal("seven clients after two starts (five demo, the web helper page's own, one added)", 7,
          len(passby.cli("clients", "list").splitlines()))
    equal("a command that started the cluster stops it again", [], passby.cluster_pids())

    # A crash (server and PostgreSQL killed) leaves stale locks that the next start recovers.
    passby.start()
    passby.kill()
    for pid in passby.cluster_pids():
        subprocess.run(["kill", "-9", str(pid)])
    time.sleep(1)
    check("a crash leaves postmaster.pid behind", (passby.cluster / "postmaster.pid").exists())
    passby.start()
    equal("the next start recovers and is ready", 200, passby.request("GET", "/readyz")[0])
    passby.stop_process(signal.SIGINT)

    # The database holds the shared secrets sealed (AES-GCM under <data-dir>/kek, the entry's name
    # authenticated); opened here from outside, none of them reaches the log.
    kek = bytes.fromhex((passby.data / "kek").read_text().strip())
    equal("the key-encryption key is 0600", 0o600, (passby.data / "kek").stat().st_mode & 0o777)
    passby.start()
    sealed = dict(line.split("|") for line in passby.psql("SELECT name, encode(sealed, 'hex') FROM key_material").splitlines())
    passby.stop_process(signal.SIGINT)
    opened = {name: AESGCM(kek).decrypt(bytes.fromhex(value)[:12], bytes.fromhex(value)[12:], name.encode())
              for name, value in sealed.items()}
    equal("the database holds the server secret, the ledger, receipt and demo keys, and the code keys, sealed",
          ["dev-idp-key", "ledger-key", "receipt-key", "server-secret"], sorted(name for name in opened if not name.startswith("code-key:")))
    equal("and opens with the KEK to the server secret Passby was started with", passby.env["PASSBY_SECRET"], opened["server-secret"].hex())
    code_keys = [json.loads(value)["private_key"] for name, value in opened.items() if name.startswith("code-key:")]
    check("two code keys were opened (EdDSA and the rotated ES256)", len(code_keys) == 2, f"{len(code_keys)} code keys")
    raw = [value for name, value in opened.items() if not name.startswith("code-key:")] + [kek]
    known = [secret.hex() for secret in raw] + [base64.urlsafe_b64encode(secret).rstrip(b"=").decode() for secret in raw] + code_keys
    log = passby.log_text()
    equal("no secret or private key appears in the server's log", 0, sum(1 for secret in known if secret and secret in log))


def main():
    # A server secret of the test's own, so that it can find it in the database and the log.
    passby = Passby(sys.argv[1], start=False, env={"PASSBY_SECRET": secrets.token_hex(32)})
    try:
        commands_without_server(passby)
        began = time.monotonic()
        passby.start()
        check(f"healthz and readyz answer 200 within 60 s ({time.monotonic() - began:.1f} s)", time.monotonic() - began <= 60)
        health_statuses(passby)
        lookup_code, elder, elder_name, as_guardian = consent_flow(passby)
        offline_codes(passby, elder, elder_name, as_guardian)
        codes_from_outside(passby, lookup_code)
        ledger(passby)
        privacy(passby)
        lifecycle(passby)
    finally:
        if report.failed:
            print("passby's log:\n" + passby.log_text()[-4000:])
        passby.stop()
    sys.exit(report.summary("smoke"))


if __name__ == "__main__":
    main()

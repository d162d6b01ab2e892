"""Passby against a real OpenID provider it does not write (oidc-provider-mock, from PyPI) on
loopback: its RS256 ID tokens, with custom claims mapped through PASSBY_IDENTITY_PROVIDERS, are
real-name assertions for a whole lookup, and every way such a token can be wrong is refused.

Passby finds the keys by discovery and fetches them itself; it follows a key rotation (the mock
makes a new key at every start) without a restart, keeps serving from its cached keys while the
provider is down, and refuses to start while a configured provider cannot be reached. The page's
sign-in through the provider is walked in Chromium by oidc_pages_test.py.

Usage: oidc_test.py PATH/TO/passby
"""

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx

from live import PEOPLE, Passby, Report, free_port

report = Report()
check, equal = report.check, report.equal
ACR = "urn:passby-test:real-name"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Provider:
    """oidc-provider-mock on a free loopback port. Its issuer is the URL it is reached by."""

    def __init__(self, work, port=None, strict=False):
        """`strict`: clients must register, and authorization requests must carry a nonce."""
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(work / "oidc-provider.log", "a")
        mock = Path(sys.executable).parent / "oidc-provider-mock"
        self.process = subprocess.Popen([str(mock), "-p", str(self.port), "-e", "300", *(["-r", "-n"] if strict else [])], stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                with urllib.request.urlopen(self.base + "/.well-known/openid-configuration", timeout=1) as answer:
                    self.metadata = json.load(answer)
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("oidc-provider-mock did not start; see " + self.log.name)

    def user(self, sub, claims):
        """The claims the provider puts in this user's ID tokens (they override its own)."""
        answer = httpx.put(f"{self.base}/users/{sub}", json=claims)
        assert answer.status_code == 204, answer.text

    def id_token(self, sub, client_id="passby", secret="secret", redirect_uri="http://127.0.0.1:9/callback"):
        """Signs in `sub` through the authorization-code flow, headless, and returns the ID token."""
        with httpx.Client() as client:
            query = dict(client_id=client_id, redirect_uri=redirect_uri, response_type="code",
                         scope="openid profile", state="state", nonce="nonce")
            authorized = client.post(f"{self.base}/oauth2/authorize", params=query, data={"sub": sub})
            code = parse_qs(urlparse(authorized.headers["location"]).query)["code"][0]
            tokens = client.post(f"{self.base}/oauth2/token", auth=(client_id, secret),
                                 data={"grant_type": "authorization_code", "code": code, "redirect_uri": query["redirect_uri"]})
            return tokens.json()["id_token"]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


def person_claims(person, **extra):
    return {"name": person.name, "national_id": person.id_number, "acr": ACR, **extra}


def main():
    binary = sys.argv[1]
    work = Path(binary).resolve().parent.parent / "test-output" / "oidc"
    work.mkdir(parents=True, exist_ok=True)
    provider = Provider(work)
    passby = None
    try:
        with urllib.request.urlopen(provider.metadata["jwks_uri"], timeout=5) as answer:
            jwks = answer.read()
        providers = [{"issuer": provider.metadata["issuer"], "audience": "passby",
                      "claims": {"id_number": "national_id", "name": "name", "real_name_verified": {"acr": [ACR]}},
                      "max_age_seconds": 600, "allow_http": True}]
        (work / "providers.json").write_text(json.dumps(providers))
        passby = Passby(binary, env={"PASSBY_IDENTITY_PROVIDERS": str(work / "providers.json"), "PASSBY_DEV_IDP": "off"})

        guardian, passerby = PEOPLE["guardian"], PEOPLE["passerby"]
        provider.user("guardian", person_claims(guardian))
        provider.user("passerby", person_claims(passerby))
        elder = passby.subjects["elder"]
        as_guardian = provider.id_token("guardian")
        header = json.loads(base64.urlsafe_b64decode(as_guardian.split(".")[0] + "=="))
        equal("the provider signs its ID tokens with RS256", "RS256", header.get("alg"))
        check("its ID tokens carry no kid (Passby takes the one RSA key of the set)", "kid" not in header, header)

        status, body = passby.call("POST", "/v1/family-members", {"id_number": elder, "name": "王秀英", "relationship": "parent"},
                                   key=passby.keys["demo-guardian"], assertion=as_guardian)
        equal("a guardian signed in at the provider registers (pending)", 202, status)
        passby.confirm_guardian(guardian, elder)
        status, grant = passby.call("POST", "/v1/consents", {"id_number": elder}, key=passby.keys["demo-guardian"], assertion=as_guardian)
        equal("and grants consent", 201, status)
        as_passerby = provider.id_token("passerby")
        status, answer = passby.call("POST", "/v1/lookups", {"id_number": elder, "consent_token": grant.get("token", "")},
                                     key=passby.keys["demo-helper"], assertion=as_passerby)
        check("a passer-by signed in at the provider gets the display code", status == 201 and answer.get("code", "").startswith("PB1:"),
              (status, answer))

        def refused(token):
            status, body = passby.call("POST", "/v1/lookups", {"id_number": elder, "consent_token": "0000-0000-0000-0000"},
                                       key=passby.keys["demo-helper"], assertion=token)
            return status, body.get("reason")

        now = int(time.time())
        equal("a token the provider issued to another client of its own is refused", (401, "assertion-wrong-audience"),
              refused(provider.id_token("passerby", client_id="another-app")))
        provider.user("late", person_claims(passerby, exp=now - 60))
        equal("an expired token is refused", (401, "assertion-expired"), refused(provider.id_token("late")))
        provider.user("elsewhere", person_claims(passerby, iss="http://127.0.0.1:1"))
        equal("a token naming another issuer is refused, signed or not", (401, "assertion-untrusted-issuer"),
              refused(provider.id_token("elsewhere")))
        provider.user("shared", person_claims(passerby, aud=["passby", "another-app"]))
        equal("several audiences without azp are refused", (401, "assertion-wrong-audience"), refused(provider.id_token("shared")))
        provider.user("stale", person_claims(passerby, auth_time=now - 4000))
        equal("a sign-in older than max_age_seconds is refused", (401, "assertion-too-old"), refused(provider.id_token("stale")))
        provider.user("unverified", {"name": passerby.name, "national_id": passerby.id_number, "acr": "urn:password-only"})
        equal("an acr that is not a real-name one is refused", (401, "assertion-not-verified"), refused(provider.id_token("unverified")))

        good = provider.id_token("passerby")
        _, payload, _ = good.split(".")
        none = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + payload + "."
        equal("alg none is refused", (401, "assertion-algorithm-refused"), refused(none))
        signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + payload
        for secret, what in ((jwks, "its JWK set"), (json.dumps(json.loads(jwks)["keys"][0]).encode(), "its JWK")):
            mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            equal(f"HS256 keyed with the provider's public key ({what}) is refused", (401, "assertion-algorithm-refused"),
                  refused(signing_input + "." + b64(mac)))
        tampered = good.rsplit(".", 1)[0] + "." + b64(b"\0" * 256)
        equal("a forged RS256 signature is refused", (401, "assertion-bad-signature"), refused(tampered))

        # Rotation: the provider restarts with a new key. Passby, untouched, fetches the new set
        # when a token fails with the keys it has (the mock's tokens name no kid).
        time.sleep(31)  # past the 30 s since the last forced refetch (the forged signature above)
        provider.stop()
        provider = Provider(work, port=provider.port)
        provider.user("passerby", person_claims(passerby))
        equal("after the provider's key rotation a new token is accepted, no restart of Passby",
              (403, "consent-invalid"), refused(provider.id_token("passerby")))
        # Down: a token minted before, never used, still verifies from the cached keys.
        unused = provider.id_token("passerby")
        provider.stop()
        equal("while the provider is down, its tokens verify from the cached keys", (403, "consent-invalid"), refused(unused))
        with urllib.request.urlopen(passby.base + "/readyz", timeout=5) as answer:
            status, text = answer.status, answer.read().decode()
        check("and /readyz still answers 200, naming the provider and its usable keys",
              status == 200 and f"provider {provider.metadata['issuer']} keys=" in text and "keys=0" not in text, text)
        passby.stop()
        passby = None
        # A provider that cannot be reached at start-up is a start-up error naming it.
        late = Passby(binary, env={"PASSBY_IDENTITY_PROVIDERS": str(work / "providers.json"), "PASSBY_DEV_IDP": "off"}, start=False)
        try:
            done = subprocess.run([late.binary, "serve", "--demo", "--data-dir", str(late.data), "--port", str(free_port())],
                                  env=late.env, capture_output=True, text=True, timeout=60)
            output = done.stdout + done.stderr
            check("serve refuses to start while a configured provider is down, naming it",
                  done.returncode != 0 and provider.base in output and "discovery" in output, output[-300:])
        except subprocess.TimeoutExpired:
            check("serve refuses to start while a configured provider is down, naming it", False, "it started")
        finally:
            late.stop()
        provider = Provider(work, port=provider.port)  # so that the finally below has one to stop
    finally:
        if passby:
            passby.stop()
        provider.stop()
    sys.exit(report.summary("oidc"))


if __name__ == "__main__":
    main()

"""Structure-aware fuzzing of POST /v1/verifications (issue 13): well-formed but hostile codes.

Every code is a real `PB1:` code as far as the layers go (base45 of zlib of a COSE_Sign1 with a
CWT payload), with hostile values inside: extreme and negative integers, huge and odd strings,
wrong types, unknown and known key ids, and a share of them signed with Passby's own key, so
that they get past the signature check to the claims. Random bytes alone never found the
crash of finding 2; these reach the code that reads the claims.

The run passes when no answer is a 5xx, the server never dies, every answer is the typed
verdict or a 4xx problem, no code that is not valid has its claims echoed, and Passby's own
valid codes sent in between keep verifying.

Usage: fuzz_codes.py PATH/TO/passby [COUNT]
"""

import base64
import hashlib
import json
import random
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import base45
import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from live import Passby, Report

INTEGERS = [0, 1, -1, 9, 10, 2**31 - 1, 2**31, -(2**31), 2**32, 2**53, 2**62, 2**63 - 1, -(2**63), 2**64 - 1, -(2**64),
            253402300799, 253402300800, -253402300800, int(time.time()), int(time.time()) + 10, int(time.time()) - 10]
STRINGS = ["", "a", "王*英", "1101**********002X", "elder", "child", "green", "red", "display", "offline", "receipt", "\u0000",
           "\u202e", "\ud7ff", "x" * 300, "王" * 700, "%s%n%x", "' OR 1=1 --", "<script>alert(1)</script>", "\r\nSet-Cookie: a=b"]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hostile_value(rng):
    """Any CBOR value, most of them valid-looking and wrong."""
    choice = rng.randrange(12)
    if choice < 3:
        return rng.choice(INTEGERS)
    if choice < 6:
        return rng.choice(STRINGS)
    if choice == 6:
        return bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 7, 8, 9, 16, 32, 64, 300])))
    if choice == 7:
        return rng.choice([1.5, -0.0, float("inf"), float("nan"), 1e308])
    if choice == 8:
        return rng.choice([True, False, None, cbor2.undefined])
    if choice == 9:
        return [rng.choice(INTEGERS) for _ in range(rng.randrange(4))]
    if choice == 10:
        return {rng.choice(STRINGS[:12]): rng.choice(INTEGERS)}
    return cbor2.CBORTag(rng.choice([0, 1, 2, 3, 18, 55799, 2**32]), rng.choice(INTEGERS + STRINGS[:5]))


class Forger:
    """Builds hostile codes around a valid skeleton."""

    def __init__(self, rng, key, kid):
        self.rng = rng
        self.key = key
        self.kid = kid

    def claims(self):
        rng = self.rng
        now = int(time.time())
        kind = rng.choice(["display", "offline", "receipt", "display", "offline", "unknown", 7])
        private = {"k": kind, "n": "王*英", "i": "1101**********002X", "a": rng.choice(["elder", "child", "adult"])}
        if kind == "display" or rng.random() < 0.2:
            private.update({"s": rng.choice(["green", "yellow", "red", "purple"]), "t": now - 60})
        if kind == "offline" or rng.random() < 0.2:
            private.update({"g": rng.choice([1, 2, 0, -1, 2**63 - 1]), "r": bytes(rng.randrange(256) for _ in range(8))})
        claims = {1: "passby", 6: now, 4: now + 10, 7: bytes(rng.randrange(256) for _ in range(16)), -70001: private}
        # Then spoil some of it: values, types, missing and extra keys.
        for _ in range(rng.randrange(1, 5)):
            target = rng.random()
            if target < 0.45:
                private[rng.choice(["k", "n", "i", "a", "s", "t", "g", "r", "x", ""])] = hostile_value(rng)
            elif target < 0.85:
                claims[rng.choice([1, 4, 6, 7, 2, 3, 5, -70002, 2**63])] = hostile_value(rng)
            elif target < 0.93:
                claims.pop(rng.choice([1, 4, 6, 7, -70001]), None)
            else:
                claims[-70001] = hostile_value(rng)
        return claims

    def sign(self, claims, protected=None):
        protected_bytes = cbor2.dumps(protected or {1: -8, 4: self.kid}, canonical=True)
        payload = cbor2.dumps(claims, canonical=True)
        signature = self.key.sign(cbor2.dumps(["Signature1", protected_bytes, b"", payload]))
        cose = cbor2.dumps(cbor2.CBORTag(18, [protected_bytes, {}, payload, signature]))
        return "PB1:" + base45.b45encode(zlib.compress(cose, 9)).decode()

    def valid(self):
        """A genuine display code, as Passby would sign it now."""
        now = int(time.time())
        return self.sign({1: "passby", 6: now, 4: now + 10, 7: bytes(16), -70001: {"k": "display", "n": "王*英",
                          "i": "1101**********002X", "a": "elder", "s": "green", "t": now - 60}})

    def code(self):
        rng = self.rng
        protected = {1: -8, 4: self.kid}
        roll = rng.random()
        if roll < 0.15:
            protected[4] = bytes(rng.randrange(256) for _ in range(rng.choice([0, 7, 8, 9, 32])))
        elif roll < 0.25:
            protected[rng.choice([1, 4, 3, 33])] = hostile_value(rng)
        elif roll < 0.3:
            protected = hostile_value(rng)
        protected_bytes = cbor2.dumps(protected, canonical=True)
        payload = cbor2.dumps(self.claims(), canonical=rng.random() < 0.9)
        signed = rng.random() < 0.45 and isinstance(protected, dict) and protected.get(4) == self.kid
        if signed:
            signature = self.key.sign(cbor2.dumps(["Signature1", protected_bytes, b"", payload]))
        else:
            signature = bytes(rng.randrange(256) for _ in range(rng.choice([64, 0, 63, 65, 128])))
        unprotected = {} if rng.random() < 0.9 else {4: hostile_value(rng)}
        message = [protected_bytes, unprotected, payload, signature]
        if rng.random() < 0.05:
            message = message[:rng.randrange(4)] or [hostile_value(rng)]
        tag = 18 if rng.random() < 0.95 else rng.choice([17, 98, 2**32])
        cose = cbor2.dumps(cbor2.CBORTag(tag, message))
        return "PB1:" + base45.b45encode(zlib.compress(cose, 9)).decode(), signed


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    report = Report()
    # Passby's signing key is made here and handed over as an older key directory, which the
    # first start imports into the database: the forger then holds the very key Passby signs with.
    passby = Passby(binary, start=False)
    try:
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        kid = hashlib.sha256(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).digest()[:8]
        keys = passby.data / "keys"
        keys.mkdir(parents=True)
        (keys / f"{b64url(kid)}.json").write_text(json.dumps({"alg": "EdDSA", "private_key": b64url(raw), "created": int(time.time()),
                                                               "sequence": 1}))
        passby.start()
        published = [entry["kid"] for entry in passby.call("GET", "/.well-known/passby-keys.json")[1]["keys"] if entry["use"] == "sig"]
        assert published == [b64url(kid)], published
        forger = Forger(random.Random(13), key, kid)
        forged = [forger.code() for _ in range(count)]
        codes = [code for code, _ in forged]
        checkpoint = passby.keys["demo-checkpoint"]

        def verify(code):
            status, _, body = passby.request("POST", "/v1/verifications", {"code": code}, key=checkpoint)
            return status, body

        answers, controls = [], []
        with ThreadPoolExecutor(max_workers=8) as pool:
            for start in range(0, count, 500):
                answers += list(pool.map(verify, codes[start:start + 500]))
                controls.append(verify(forger.valid()))
                if passby.process.poll() is not None:
                    break
        statuses = [status for status, _ in answers]
        report.equal(f"{count} hostile codes were all answered", count, len(answers))
        report.equal("no 5xx", 0, sum(1 for status in statuses if status >= 500))
        report.check("the server never died", passby.process.poll() is None and passby.ready(), passby.log_text()[-2000:])
        verdicts, signed_verdicts = {}, {}
        echoed = 0
        for (status, body), (_, signed) in zip(answers, forged):
            if status == 200:
                answer = json.loads(body)
                verdicts[answer.get("verdict")] = verdicts.get(answer.get("verdict"), 0) + 1
                if signed:
                    signed_verdicts[answer.get("verdict")] = signed_verdicts.get(answer.get("verdict"), 0) + 1
                if answer.get("verdict") != "valid" and any(field in answer for field in ("masked_name", "masked_id", "status")):
                    echoed += 1
        others = sorted({status for status in statuses if status != 200})
        report.check("every answer is a verdict (200) or a 4xx problem", all(400 <= s < 500 for s in others), others)
        report.equal("no claims of a code that is not valid are echoed", 0, echoed)
        signed = sum(signed_verdicts.values())
        report.check("over a quarter carried Passby's real signature", signed > count // 4, signed)
        report.check("and most of those were refused by the claim checks, not the signature",
                     signed_verdicts.get("malformed", 0) > signed // 2 and signed_verdicts.get("bad-signature", 0) < signed // 100,
                     signed_verdicts)
        report.check("genuine codes sent in between verified valid throughout",
                     all(status == 200 and json.loads(body).get("verdict") == "valid" for status, body in controls), controls[:3])
        print(f"verdicts: {json.dumps(verdicts, sort_keys=True)}; of the signed: {json.dumps(signed_verdicts, sort_keys=True)}; "
              f"other statuses: {others}")
    finally:
        passby.stop()
    sys.exit(report.summary("fuzz-codes"))


if __name__ == "__main__":
    main()

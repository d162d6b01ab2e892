#!/usr/bin/env python3
"""Checks Passby codes with tools nobody on the project wrote: pycose, cbor2, base45 and zlib for
the code, zxing-cpp for the QR image.

  check_codes.py corpus DIR            every conformance case gives the result its `expected` says
  check_codes.py live JWKS CODE [PNG]  a code from a running passby verifies against its published
                                       keys (and the PNG decodes back to the same code)
  check_codes.py signature JWKS CODE...  each code's signature verifies (offline codes: replacement
                                       is a server-side check, so a replaced code still verifies here)

Prints one line per check and a closing 'N passed, M failed'; exits 1 on any failure.
"""
import base64
import json
import pathlib
import sys
import zlib

import base45
import cbor2
from pycose.keys import EC2Key, OKPKey
from pycose.keys.curves import Ed25519, P256
from pycose.messages import Sign1Message

PREFIX = "PB1:"
ALLOWED_ALGORITHMS = {-8: "EdDSA", -7: "ES256"}


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_keys(jwks):
    """kid bytes -> (alg, pycose key). A JWK whose kid is not derived from its key is ignored."""
    import hashlib

    keys = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("use") != "sig":
            continue
        if jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519":
            raw = b64url(jwk["x"])
            key = OKPKey(crv=Ed25519, x=raw)
        elif jwk["kty"] == "EC" and jwk["crv"] == "P-256":
            x, y = b64url(jwk["x"]), b64url(jwk["y"])
            raw = b"\x04" + x + y
            key = EC2Key(crv=P256, x=x, y=y)
        else:
            continue
        kid = hashlib.sha256(raw).digest()[:8]
        if base64.urlsafe_b64encode(kid).rstrip(b"=").decode() != jwk["kid"]:
            continue
        keys[kid] = (jwk["alg"], key)
    return keys


class Malformed(Exception):
    pass


def strict_cbor(data):
    """cbor2 is lenient; Passby's codes are in deterministic encoding, so anything else is refused:
    indefinite lengths, duplicate keys and trailing bytes do not survive re-encoding unchanged."""
    try:
        item = cbor2.loads(data)
    except Exception as error:
        raise Malformed(f"cbor: {error}")
    if cbor2.dumps(item, canonical=True) != data:
        raise Malformed("not deterministic CBOR (indefinite length, duplicate key or trailing bytes)")
    return item


def decode(code):
    if len(code) > 4096:
        raise Malformed("too large")
    if not code.startswith(PREFIX):
        raise Malformed("prefix")
    try:
        compressed = base45.b45decode(code[len(PREFIX):])
    except Exception:
        raise Malformed("base45")
    try:
        inflator = zlib.decompressobj()
        cose = inflator.decompress(compressed, 8192)
        if not inflator.eof or inflator.unused_data or inflator.unconsumed_tail:
            raise Malformed("zlib stream incomplete or followed by other bytes")
    except zlib.error:
        raise Malformed("zlib")
    item = strict_cbor(cose)
    if not isinstance(item, cbor2.CBORTag) or item.tag != 18:
        raise Malformed("not COSE_Sign1 (tag 18)")
    if not isinstance(item.value, list) or len(item.value) != 4:
        raise Malformed("COSE_Sign1 must have four elements")
    protected = cbor2.loads(item.value[0])
    if not isinstance(protected, dict) or 1 not in protected or 4 not in protected:
        raise Malformed("protected header needs alg and kid")
    claims = strict_cbor(item.value[2])
    private = claims.get(-70001) if isinstance(claims, dict) else None
    required = {1: str, 6: int, 4: int, 7: bytes}
    if not isinstance(private, dict) or any(not isinstance(claims.get(k), t) for k, t in required.items()):
        raise Malformed("CWT claims incomplete")
    if private.get("k") not in ("display", "offline", "receipt"):
        raise Malformed("unknown kind")
    message = Sign1Message.decode(cose)
    return message, protected, claims, private


def verify(code, jwks, clock, skew):
    """Returns (decode, verify, valid, kind, reason) for one code."""
    try:
        message, protected, claims, private = decode(code)
    except Malformed:
        return False, False, False, None, "malformed"
    kind = private["k"]
    keys = load_keys(jwks)
    kid = protected[4]
    if kid not in keys:
        return True, False, False, kind, "unknown-key"
    alg, key = keys[kid]
    if ALLOWED_ALGORITHMS.get(protected[1]) != alg:
        return True, False, False, kind, "bad-signature"
    message.key = key
    try:
        signature_ok = message.verify_signature()
    except Exception:
        signature_ok = False
    if not signature_ok:
        return True, False, False, kind, "bad-signature"
    if clock < claims[6] - skew:
        return True, True, False, kind, "not-yet-valid"
    if clock > claims[4] + skew:
        return True, True, False, kind, "expired"
    return True, True, True, kind, None


def main():
    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"ok   - {name}")
        else:
            failed += 1
            print(f"FAIL - {name} {detail}")

    mode = sys.argv[1]
    if mode == "corpus":
        files = sorted(pathlib.Path(sys.argv[2]).glob("*.json"))
        check("the corpus has at least 25 cases", len(files) >= 25, f"({len(files)})")
        for path in files:
            case = json.loads(path.read_text())
            got = verify(case["code"], case["keys"], case["clock"], case["skew"])
            e = case["expected"]
            want = (e["decode"], e["verify"], e["valid"], e.get("kind"), e.get("reason"))
            check(f"{path.stem}: {case['description']}", got == want, f"expected {want}, got {got}")
    elif mode == "live":
        jwks = json.loads(pathlib.Path(sys.argv[2]).read_text())
        code = pathlib.Path(sys.argv[3]).read_text().strip()
        import time

        now = int(time.time())
        got = verify(code, jwks, now, 2)
        check("a code from the running passby verifies with pycose against its published keys", got[2], f"{got}")
        _, _, claims, _ = decode(code)
        check("it stops verifying 10 s + skew after iat", verify(code, jwks, claims[6] + 13, 2)[4] == "expired")
        if len(sys.argv) > 4:
            import zxingcpp
            from PIL import Image

            results = zxingcpp.read_barcodes(Image.open(sys.argv[4]), formats=zxingcpp.BarcodeFormat.QRCode)
            texts = [r.text for r in results]
            check("the PNG decodes with zxing-cpp to the same code", texts == [code], f"{texts}")
    elif mode == "signature":
        import time

        jwks = json.loads(pathlib.Path(sys.argv[2]).read_text())
        for path in sys.argv[3:]:
            code = pathlib.Path(path).read_text().strip()
            got = verify(code, jwks, int(time.time()), 2)
            check(f"{pathlib.Path(path).name}: signature and time verify with pycose", got[1] and got[2], f"{got}")
    else:
        sys.exit(__doc__)  # an unknown mode checks nothing, so it must not pass
    if passed + failed == 0:
        check("at least one check ran", False)
    print(f"interop: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

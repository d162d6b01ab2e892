"""Schemathesis hooks for Passby: every operation is called with a valid key of the role it
serves, and person-facing operations with a valid real-name assertion, so the generated
requests reach the handlers rather than stopping at authentication."""

import json
import os
import re

import schemathesis

CREDENTIALS = json.loads(open(os.environ["PASSBY_FUZZ_CREDENTIALS"]).read())

# (method, path pattern) → (role, whose assertion); the first match wins.
ROUTES = [
    ("POST", r"^/v1/verifications$", "checkpoint", None),
    ("PUT", r"^/v1/health-statuses$", "gateway", None),
    ("POST", r"^/v1/guardianship-confirmations$", "gateway", None),
    (None, r"^/v1/family-members", "guardian", "guardian"),
    ("POST", r"^/v1/consents/attested$", "helper", "passerby"),
    (None, r"^/v1/consents", "guardian", "guardian"),
    (None, r"^/v1/lookups$", "helper", "passerby"),
    (None, r"^/v1/(terminal|offline-codes)", "terminal", "elder"),
    (None, r"^/v1/(ledger|records)", "reviewer", None),
]


@schemathesis.auth()
class PassbyCredentials:
    # Schemathesis caches what `get` returns for every operation, so `get` returns all the
    # credentials and `set` picks the ones for the case's operation.
    def get(self, case, ctx):
        return CREDENTIALS

    def set(self, case, data, ctx):
        for method, pattern, role, person in ROUTES:
            if (method is None or method == case.method.upper()) and re.search(pattern, case.path):
                case.headers = case.headers or {}
                case.headers["Authorization"] = "Bearer " + data["keys"][role]
                if person:
                    case.headers["Passby-Assertion"] = data["assertions"][person]
                return

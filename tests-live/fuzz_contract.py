"""Fuzzes a live passby against openapi.yaml with schemathesis, with keys for every role.

Checks that no response is a 5xx and that every response conforms to the document (status,
content type, schema). Prints the number of requests made and fails on any finding.

Usage: fuzz_contract.py PATH/TO/passby REPORT_DIR [MAX_EXAMPLES] [SEED]
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from live import PEOPLE, Passby, Person

HERE = Path(__file__).resolve().parent


def main():
    binary, report = sys.argv[1], Path(sys.argv[2]).resolve()
    max_examples = sys.argv[3] if len(sys.argv) > 3 else "40"
    seed = sys.argv[4] if len(sys.argv) > 4 else "20261129"
    report.mkdir(parents=True, exist_ok=True)
    # Limits high enough that generated requests reach the handlers, not only the rate limiter.
    passby = Passby(binary, env={"PASSBY_LOOKUPS_PER_MINUTE_REQUESTER": "100000", "PASSBY_LOOKUPS_PER_MINUTE_SUBJECT": "100000",
                                 "PASSBY_ATTESTED_PER_HOUR": "100000"})
    try:
        # The elder is the demo seed's, whose status passby seeded.
        people = {"guardian": PEOPLE["guardian"], "passerby": PEOPLE["passerby"], "elder": Person("王秀英", passby.subjects["elder"])}
        credentials = {
            "keys": {
                "helper": passby.keys["demo-helper"], "gateway": passby.keys["demo-gateway"], "guardian": passby.keys["demo-guardian"],
                "terminal": passby.keys["demo-terminal"], "checkpoint": passby.keys["demo-checkpoint"],
                "reviewer": json.loads(passby.cli("clients", "add", "--name", "fuzz-reviewer", "--role", "reviewer", "--json"))["key"],
            },
            "assertions": {name: passby.assertion(person) for name, person in people.items()},
        }
        (passby.work / "credentials.json").write_text(json.dumps(credentials))
        # Some state for the handlers to find: a registration, a grant, an offline code, a sealed head.
        guardian = credentials["assertions"]["guardian"]
        passby.call("POST", "/v1/family-members", {"id_number": people["elder"].id_number, "name": "王秀英", "relationship": "parent"},
                    key=credentials["keys"]["guardian"], assertion=guardian)
        passby.confirm_guardian(people["guardian"], people["elder"].id_number)
        passby.call("POST", "/v1/consents", {"id_number": people["elder"].id_number, "max_uses": 100}, key=credentials["keys"]["guardian"],
                    assertion=guardian)
        passby.call("POST", "/v1/offline-codes", {"method": "id-card", "id_number": people["elder"].id_number, "name": "王秀英"},
                    key=credentials["keys"]["terminal"])
        time.sleep(6)  # one seal

        env = dict(os.environ, PASSBY_FUZZ_CREDENTIALS=str(passby.work / "credentials.json"), SCHEMATHESIS_HOOKS="fuzz_hooks",
                   PYTHONPATH=str(HERE))
        # One worker: before 3.11.8, ast.parse is not safe across threads (CPython gh-106905), and
        # hypothesis calls it while drawing, so two workers now and then die with "AST constructor
        # recursion depth mismatch", a failure of the tool, not of Passby.
        command = [
            str(Path(sys.executable).parent / "schemathesis"), "run", f"{passby.base}/openapi.yaml", "--url", passby.base,
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples", max_examples, "--seed", seed, "--workers", "1",
            "--request-timeout", "10", "--suppress-health-check", "all", "--warnings", "off", "--no-color",
            "--report", "har", "--report-har-path", str(report / "requests.har"),
        ]
        result = subprocess.run(command, env=env, cwd=report, capture_output=True, text=True)  # its example database goes there
        (report / "schemathesis.txt").write_text(result.stdout + result.stderr)
        har = json.loads((report / "requests.har").read_text())
        entries = har["log"]["entries"]
        server_errors = [e for e in entries if e["response"]["status"] >= 500]
        print(result.stdout[-3000:])
        print(f"fuzz: {len(entries)} requests, {len(server_errors)} answered 5xx, schemathesis exit {result.returncode}"
              f" (seed {seed}, report in {report})")
        ok = result.returncode == 0 and not server_errors and len(entries) >= int(os.environ.get("FUZZ_MIN_REQUESTS", "1000"))
    finally:
        passby.stop()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

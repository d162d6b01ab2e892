# Passby. `make run` and `make test` work on a fresh Debian machine with Swift.
SWIFT ?= swift
DATA_DIR ?= .passby
VENV := .venv-tests
PASSBY := .build/debug/passby

.PHONY: bootstrap build run test lint test-swift test-smoke test-interop test-pages test-contract test-faults test-attacks test-fuzz-codes test-oidc test-scaleout fuzz faults venv bench clean

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build --product passby

## Start embedded PostgreSQL, migrate, seed the demo and serve on http://127.0.0.1:8080.
run: build
	$(PASSBY) serve --demo --data-dir $(DATA_DIR)

## Unit and PostgreSQL tests, the conformance corpus through independent tools, an end-to-end
## smoke test of the real binary (which also checks its live codes from outside), and the pages
## in headless Chromium (screenshots in .build/test-output/pages), schemathesis against
## openapi.yaml, and fault injection (database, process, abusive clients).
test: bootstrap lint test-swift test-interop test-smoke test-pages test-contract test-faults test-attacks test-fuzz-codes test-oidc test-scaleout

## Python tools that check Passby from outside, in a virtual environment under the project.
venv: $(VENV)/.installed
$(VENV)/.installed: tests-interop/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests-interop/requirements.txt
	touch $@

test-interop: venv
	$(VENV)/bin/python tests-interop/check_codes.py corpus Tests/Conformance

## swift-format at 150 columns (`.swift-format`); `swift format format -i -r Sources Tests` fixes most of what it reports.
lint:
	$(SWIFT) format lint --strict -r Sources Tests Package.swift

test-swift:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

test-pages: venv
	$(SWIFT) build --product passby
	$(VENV)/bin/python tests-live/pages_test.py $(PASSBY) .build/test-output/pages

## At least 1,000 generated requests with a fixed seed; `make fuzz` runs a longer one.
test-contract: venv
	$(SWIFT) build --product passby
	$(VENV)/bin/python tests-live/fuzz_contract.py $(PASSBY) .build/test-output/fuzz 20

fuzz: venv
	$(SWIFT) build --product passby
	FUZZ_MIN_REQUESTS=5000 $(VENV)/bin/python tests-live/fuzz_contract.py $(PASSBY) .build/test-output/fuzz-long 200 $${SEED:-20261129}

## The database stopped and slowed under load, 20 SIGKILLs, SIGTERM, abusive clients.
test-faults faults: venv
	$(SWIFT) build --product passby
	$(VENV)/bin/python tests-live/faults.py $(PASSBY)

## One check per finding of the adversarial review (SECURITY.md), against the real binary.
test-attacks: venv
	$(SWIFT) build --product passby
	$(VENV)/bin/python tests-live/attacks.py $(PASSBY)

## 10,000 well-formed hostile codes (a share signed with Passby's own key) through POST /v1/verifications.
test-fuzz-codes: venv
	$(SWIFT) build --product passby
	$(VENV)/bin/python tests-live/fuzz_codes.py $(PASSBY) 10000

## A real OpenID provider from PyPI (oidc-provider-mock) on loopback: its RS256 ID tokens, claims mapped, for a whole lookup, and every bad one
## refused; then /helper's sign-in through the provider's own login page, walked in Chromium, and its callback attacked.
test-oidc: venv
	$(SWIFT) build --product passby
	$(VENV)/bin/python tests-live/oidc_test.py $(PASSBY)
	$(VENV)/bin/python tests-live/oidc_pages_test.py $(PASSBY)

## Three instances with their own data directories on one throwaway PostgreSQL server, behind HAProxy.
test-scaleout: venv
	$(SWIFT) build --product passby
	$(VENV)/bin/python tests-live/scaleout_test.py $(PASSBY)

test-smoke: venv
	$(SWIFT) build --product passby
	$(VENV)/bin/python tests-live/smoke_test.py $(PASSBY)

## Benchmarks in release mode; each prints ratios against a baseline measured in the same run.
bench: bootstrap
	@command -v wrk >/dev/null || { [ "$$(id -u)" -eq 0 ] && apt-get install -y -qq wrk || sudo apt-get install -y -qq wrk; }
	@[ -x /usr/bin/time ] || { [ "$$(id -u)" -eq 0 ] && apt-get install -y -qq time || sudo apt-get install -y -qq time; }
	$(SWIFT) build -c release --product passby-bench
	$(SWIFT) build -c release --product passby
	.build/release/passby-bench bench/micro.json
	BENCH_MICRO_JSON=bench/micro.json python3 tests-live/bench.py .build/release/passby

clean:
	rm -rf .build $(VENV)

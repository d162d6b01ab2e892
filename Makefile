# Passby. `make run` and `make test` work on a fresh Debian machine with Swift.
SWIFT ?= swift
DATA_DIR ?= .passby
VENV := .venv-tests
PASSBY := .build/debug/passby

.PHONY: bootstrap build run test test-swift test-smoke clean

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build --product passby

## Start embedded PostgreSQL, migrate, seed the demo and serve on http://127.0.0.1:8080.
run: build
	$(PASSBY) serve --demo --data-dir $(DATA_DIR)

## Unit and PostgreSQL tests, then an end-to-end smoke test of the real binary.
test: bootstrap test-swift test-smoke

test-swift:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

test-smoke:
	$(SWIFT) build --product passby
	bash scripts/smoke-test.sh $(PASSBY)

clean:
	rm -rf .build $(VENV)

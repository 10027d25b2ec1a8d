# Sprout: `make dev` starts the whole local stack; `make test` runs every check.
# `make test-fast` is the quick loop: lint and every test but the slow ones (marked `slow`).
.PHONY: dev test test-fast check lint bench fuzz soak bootstrap bootstrap-test openapi

PY := .venv/bin/python

dev: bootstrap
	$(PY) -m deploy.local

test: bootstrap-test
	$(MAKE) --no-print-directory check

test-fast: bootstrap-test lint
	$(PY) -m pytest tests -m 'not slow'

check: lint
	$(PY) -m pytest tests
	@if [ -f frontend/package.json ]; then cd frontend && npm test --silent; fi

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy shared functions deploy benchmarks tests

bench: bootstrap-test
	$(PY) -m benchmarks.api
	@for b in captcha metrics worker stack page pow abuse; do \
		if [ -f benchmarks/$$b.py ]; then $(PY) -m benchmarks.$$b || exit 1; fi; \
	done

# Every operation of shared/openapi.json, 1,000 generated requests each (the suite runs 60).
fuzz: bootstrap-test
	$(PY) -m tests.fuzz_api --examples 1000

# 200 visitors for 5 minutes with random faults; exits 1 if an invariant breaks.
soak: bootstrap-test
	$(PY) -m tests.soak $(SOAK_ARGS)

openapi:
	$(PY) -m shared.openapi > shared/openapi.json

bootstrap:
	@deploy/local/bootstrap.sh

bootstrap-test:
	@deploy/local/bootstrap.sh --test

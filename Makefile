# Thin wrapper in kselftest's lib.mk vocabulary; npm scripts are the source of truth.
.PHONY: all install build check test run run_tests bench clean

NODE_MODULES_STAMP := node_modules/.package-lock.json

all: build

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(NODE_MODULES_STAMP)

build: install
	npm run --silent build

# typecheck + every ava test (the kselftest suites run inside ava through one bridge test);
# ends with a plain "N passed, N failed, N skipped" line and fails when no test ran.
test: install
	npm run --silent typecheck
	node scripts/run-tests.js

check: test

# The main job: the whole conformance suite against the built-in default host, as KTAP.
run: install
	npm run --silent kselftest

run_tests: run

bench: install
	node -r ts-node/register/transpile-only bench/run.ts

clean:
	rm -rf dist

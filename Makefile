# Thin wrapper in kselftest's lib.mk vocabulary; npm scripts are the source of truth.
.PHONY: all install native build check test run run_tests bench fuzz fuzz-replay clean

NODE_MODULES_STAMP := node_modules/.package-lock.json

all: build

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(NODE_MODULES_STAMP)

# Native front ends of the run server, C built from source with the machine's compiler. Their
# protocol header is generated from lib/server/channel.ts, never written by hand.
CC ?= cc
NATIVE := build/native
native: $(NATIVE)/iommu-emu-fuse

$(NATIVE)/iommu_emu_server.h: lib/server/channel.ts scripts/gen-server-header.ts $(NODE_MODULES_STAMP)
	@mkdir -p $(NATIVE)
	node -r ./scripts/ts-register.js scripts/gen-server-header.ts > $@.tmp && mv $@.tmp $@

$(NATIVE)/iommu-emu-fuse: native/iommu-emu-fuse.c $(NATIVE)/iommu_emu_server.h
	$(CC) -O2 -Wall -Wextra -Werror -I$(NATIVE) -o $@ $<

build: install native
	npm run --silent build

# typecheck + every ava test (the kselftest suites run inside ava through one bridge test);
# ends with a plain "N passed, N failed, N skipped" line and fails when no test ran.
test: install native
	npm run --silent typecheck
	node scripts/run-tests.js

check: test

# The main job: the whole conformance suite against the built-in default host, as KTAP.
run: install
	npm run --silent kselftest

run_tests: run

# The benchmark table (README "Benchmarks"); writes bench/results.json. Not part of `make test`.
# FULL=1 also times `make test` (row B7 test).
bench: build
	node -r ./scripts/ts-register.js bench/run.ts $(if $(filter 1,$(FULL)),--full)

# The attacks kept in the repo: >= 1,000,000 fuzzed ioctls and >= 100,000 MAP/UNMAP operations
# against the type1 reference model (fuzz/). SEED= picks the seed (default: the clock); a failure
# prints its seed and the make fuzz-replay line that reruns the shrunk case. FUZZ_STRICT=1 fails
# on the known, reported bugs of fuzz/known.ts too.
FUZZ_CALLS ?= 1000000
FUZZ_OPS ?= 100000
fuzz: install
	node -r ./scripts/ts-register.js fuzz/run.ts all --calls $(FUZZ_CALLS) --ops $(FUZZ_OPS) $(if $(SEED),--seed $(SEED))

fuzz-replay: install
	node -r ./scripts/ts-register.js fuzz/run.ts $(FUZZ) --seed $(SEED) --path '$(FUZZ_PATH)' $(if $(FUZZ_LEN),--length $(FUZZ_LEN)) $(if $(FUZZ_CMDS),--commands '$(FUZZ_CMDS)')

clean:
	rm -rf dist build

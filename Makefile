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
# The Node-API module (the preload shim's transport and host syscalls) needs the Node headers the
# nodejs package installs; without them `run` works without the shim, and tests say so.
NODE_INCLUDE ?= $(shell node -p "require('path').resolve(process.execPath, '../../include/node')" 2>/dev/null)
NATIVE_ADDON := $(if $(wildcard $(NODE_INCLUDE)/node_api.h),$(NATIVE)/iommu_emu_node.node,)
native: $(NATIVE)/iommu-emu-fuse $(NATIVE)/libiommu-emu-preload.so $(NATIVE_ADDON)
ifeq ($(NATIVE_ADDON),)
	@echo "make: no Node headers in $(NODE_INCLUDE): the preload shim's server module is not built"
endif

$(NATIVE)/iommu_emu_server.h: lib/server/channel.ts scripts/gen-server-header.ts $(NODE_MODULES_STAMP)
	@mkdir -p $(NATIVE)
	node -r ./scripts/ts-register.js scripts/gen-server-header.ts > $@.tmp && mv $@.tmp $@

$(NATIVE)/iommu-emu-fuse: native/iommu-emu-fuse.c $(NATIVE)/iommu_emu_server.h
	$(CC) -O2 -Wall -Wextra -Werror -I$(NATIVE) -o $@ $<

$(NATIVE)/libiommu-emu-preload.so: native/iommu-emu-preload.c $(NATIVE)/iommu_emu_server.h
	$(CC) -O2 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden -I$(NATIVE) -o $@ $< -ldl -lpthread

$(NATIVE)/iommu_emu_node.node: native/iommu_emu_node.c $(NATIVE)/iommu_emu_server.h
	$(CC) -O2 -Wall -Wextra -Werror -shared -fPIC -I$(NODE_INCLUDE) -I$(NATIVE) -o $@ $<

# The C conformance programs (kselftest/c), against <linux/vfio.h> of the system headers
# (Debian: linux-libc-dev). They run against the real /dev/vfio, or under `iommu-emu run`.
KSFT_C := build/kselftest
KSFT_C_PROGS := $(KSFT_C)/vfio_group_test $(KSFT_C)/vfio_type1_test $(KSFT_C)/vfio_device_test
kselftest-c: $(KSFT_C_PROGS)

$(KSFT_C)/%: kselftest/c/%.c kselftest/c/ksft.h kselftest/c/vfio_util.h
	@mkdir -p $(KSFT_C)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

build: install native
	npm run --silent build

# typecheck + every ava test (the kselftest suites run inside ava through one bridge test);
# ends with a plain "N passed, N failed, N skipped" line and fails when no test ran.
test: install native kselftest-c
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

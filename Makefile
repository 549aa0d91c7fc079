# Thin wrapper over CMake + ctest. `make test` builds and tests three ways: 64-bit, 32-bit (-m32,
# library only) and 64-bit under AddressSanitizer + UndefinedBehaviorSanitizer; then the hardening
# targets (see below): the random walk in stress mode, the library's tests on big-endian s390x
# under qemu, the Cortex-M4 cross build, and the fuzzers (saved corpora, then FUZZ_SECONDS each).
# A target whose toolchain is missing prints `SKIPPED: what (install what)` and succeeds;
# .ci/run installs them all.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMOCKA32 ?= $(firstword $(wildcard /usr/lib/i386-linux-gnu/libcmocka.so /usr/lib/i386-linux-gnu/libcmocka.so.0))
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: all demo example test test64 test32 testasan bench clean
.PHONY: test-stress test-be build-cortex-m4 test-fuzz walk-long

all: build/64/blockheap

build/64/blockheap: FORCE
	cmake -S . -B build/64 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/64 -j $(JOBS)

# The main job on a bundled trace (MicroPython's bm_pidigits, recorded on its 32-bit unix port):
# how much heap it needs, its margin of safety at 28 KB, and how fragile that is.
DEMO_TRACE := examples/traces/bm_pidigits.trace.gz
demo: build/64/blockheap
	./build/64/blockheap margin $(DEMO_TRACE) --heap 28K --policy all
	./build/64/blockheap fragility $(DEMO_TRACE) --heap 27500

# The library embedded in a program: a static arena, a linked graph, stack scanning, the map.
example: build/64/blockheap
	./build/64/example_graph

test: test64 test32 testasan test-stress test-be build-cortex-m4 test-fuzz

test64:
	cmake -S . -B build/64 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/64 -j $(JOBS)
	cd build/64 && ctest --output-on-failure -j $(JOBS)

# 32-bit x86: gcc -m32 (Debian: gcc-12-multilib; not the gcc-multilib metapackage, which removes
# every cross compiler), else the i686 cross compiler (gcc-i686-linux-gnu); cmocka from
# libcmocka0:i386 either way (.ci/run).
test32:
	@if [ -z "$(CMOCKA32)" ]; then echo "SKIPPED: 32-bit tests (install libcmocka0:i386, see .ci/run)"; exit 0; fi; \
	mkdir -p build; printf 'int main(void){return 0;}\n' > build/m32probe.c; \
	if cc -m32 build/m32probe.c -o build/m32probe >/dev/null 2>&1; then dir=build/32; cc32=-DCMAKE_C_FLAGS=-m32; \
	elif command -v i686-linux-gnu-gcc >/dev/null 2>&1; then dir=build/32-i686; cc32=-DCMAKE_C_COMPILER=i686-linux-gnu-gcc; \
	else echo "SKIPPED: 32-bit tests (install gcc-12-multilib or gcc-i686-linux-gnu)"; exit 0; fi; \
	set -e; \
	cmake -S . -B $$dir -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBH_LIB_ONLY=ON $$cc32 \
	  -DCMOCKA_LIBRARY=$(CMOCKA32) >/dev/null; \
	cmake --build $$dir -j $(JOBS); \
	cd $$dir && ctest --output-on-failure -j $(JOBS)

testasan:
	cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="$(SAN)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$(SAN)" >/dev/null
	cmake --build build/asan -j $(JOBS)
	cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# ---- hardening (issue 6)

# The model-based walk (tests/lib/test_walk.c) with the library built to collect before every
# allocation and to fail the allocations the walk chooses. Only test_walk: the other tests count
# collections exactly.
STRESS_DIR ?= build/stress
STRESS_WALK_OPS ?= 40000
test-stress:
	cmake -S . -B $(STRESS_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBH_LIB_ONLY=ON \
	  "-DCMAKE_C_FLAGS=-DBH_STRESS_COLLECT -DBH_FAIL_INJECTION" >/dev/null
	cmake --build $(STRESS_DIR) -j $(JOBS) --target test_walk
	cd $(STRESS_DIR) && BH_WALK_OPS=$(STRESS_WALK_OPS) ctest --output-on-failure -R '^test_walk$$'

# Big-endian: the library, the example and the library's tests cross-compiled for s390x and run
# under qemu-user, with Debian's cmocka for s390x (multiarch libcmocka0:s390x, which brings the
# s390x C library that qemu-s390x then finds by itself).
BE_DIR ?= build/be-s390x
BE_CC ?= s390x-linux-gnu-gcc
BE_QEMU ?= qemu-s390x
BE_CMOCKA ?= /usr/lib/s390x-linux-gnu/libcmocka.so.0
BE_WALK_OPS ?= 15000
test-be:
	@if ! command -v $(BE_CC) >/dev/null 2>&1 || ! command -v $(BE_QEMU) >/dev/null 2>&1 || [ ! -e $(BE_CMOCKA) ]; then \
	  echo "SKIPPED: big-endian tests (install gcc-s390x-linux-gnu libc6-dev-s390x-cross qemu-user libcmocka0:s390x, see .ci/run)"; exit 0; fi; \
	set -e; \
	cmake -S . -B $(BE_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBH_LIB_ONLY=ON -DCMAKE_SYSTEM_NAME=Linux \
	  -DCMAKE_SYSTEM_PROCESSOR=s390x -DCMAKE_C_COMPILER=$(BE_CC) -DCMOCKA_LIBRARY=$(BE_CMOCKA) \
	  -DCMAKE_CROSSCOMPILING_EMULATOR=$(BE_QEMU) >/dev/null; \
	cmake --build $(BE_DIR) -j $(JOBS); \
	printf 'int main(void){unsigned x = 1; return *(unsigned char *)&x;}\n' > $(BE_DIR)/endian.c; \
	$(BE_CC) $(BE_DIR)/endian.c -o $(BE_DIR)/endian; \
	$(BE_QEMU) $(BE_DIR)/endian || { echo "$(BE_CC) under $(BE_QEMU) is not big-endian"; exit 1; }; \
	echo "big-endian: s390x under $(BE_QEMU)"; \
	cd $(BE_DIR) && BH_WALK_OPS=$(BE_WALK_OPS) ctest --output-on-failure -j $(JOBS)

# The library as firmware builds it: every source but the host-only stack scanner, warning-free,
# then its size per object file and in total.
M4_DIR ?= build/cortex-m4
M4_CC ?= arm-none-eabi-gcc
M4_FLAGS := -Os -mthumb -mcpu=cortex-m4 -Wall -Wextra -Werror -Wpedantic -std=c99 -ffreestanding
M4_SOURCES = $(filter-out src/stackscan.c,$(wildcard src/*.c))
build-cortex-m4:
	@if ! command -v $(M4_CC) >/dev/null 2>&1 || ! echo '#include <string.h>' | $(M4_CC) -E -x c - >/dev/null 2>&1; then \
	  echo "SKIPPED: Cortex-M4 build (install gcc-arm-none-eabi libnewlib-arm-none-eabi)"; exit 0; fi; \
	set -e; rm -rf $(M4_DIR); mkdir -p $(M4_DIR); \
	for f in $(M4_SOURCES); do $(M4_CC) $(M4_FLAGS) -Iinclude -Isrc -c $$f -o $(M4_DIR)/$$(basename $$f .c).o; done; \
	echo "Cortex-M4 build: $(M4_CC) $(M4_FLAGS)"; \
	$(M4_CC:gcc=size) -t $(M4_DIR)/*.o; \
	$(M4_CC:gcc=size) -t $(M4_DIR)/*.o | awk 'END { print "Cortex-M4 library text: " $$1 " bytes, data: " $$2 ", bss: " $$3 }'

# libFuzzer (clang): the saved corpora as regression tests, then FUZZ_SECONDS of fuzzing per target,
# the targets side by side (fuzz/run.sh). FUZZ_SECONDS=0: the corpora only.
FUZZ_DIR ?= build/fuzz
FUZZ_SECONDS ?= 60
test-fuzz:
	bash fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

# Not in `make test`: the walk at length (about 10M operations over all its heaps) and every state of
# a 12-block heap (11.7M transitions), with one line per heap and the totals.
WALK_LONG_OPS ?= 1200000
walk-long:
	cmake -S . -B build/64 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/64 -j $(JOBS) --target test_walk
	bash -c "time BH_WALK_OPS=$(WALK_LONG_OPS) BH_EXHAUSTIVE_BLOCKS=12 BH_WALK_LOG=1 ./build/64/test_walk"

bench: build/64/blockheap
	bash bench/run.sh

clean:
	rm -rf build

FORCE:

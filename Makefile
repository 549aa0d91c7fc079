# Thin wrapper over CMake + ctest. `make test` builds and tests three ways: 64-bit, 32-bit (-m32,
# library only) and 64-bit under AddressSanitizer + UndefinedBehaviorSanitizer.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMOCKA32 ?= $(firstword $(wildcard /usr/lib/i386-linux-gnu/libcmocka.so /usr/lib/i386-linux-gnu/libcmocka.so.0))
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: all demo test test64 test32 testasan bench clean

all: build/64/blockheap

build/64/blockheap: FORCE
	cmake -S . -B build/64 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/64 -j $(JOBS)

# The main job on the bundled example.
demo: build/64/blockheap
	./build/64/example_graph

test: test64 test32 testasan

test64:
	cmake -S . -B build/64 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/64 -j $(JOBS)
	cd build/64 && ctest --output-on-failure -j $(JOBS)

test32:
	cmake -S . -B build/32 -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBH_LIB_ONLY=ON \
	  -DCMAKE_C_FLAGS=-m32 -DCMOCKA_LIBRARY=$(CMOCKA32) >/dev/null
	cmake --build build/32 -j $(JOBS)
	cd build/32 && ctest --output-on-failure -j $(JOBS)

testasan:
	cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="$(SAN)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$(SAN)" >/dev/null
	cmake --build build/asan -j $(JOBS)
	cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

bench: build/64/blockheap
	bash bench/run.sh

clean:
	rm -rf build

FORCE:

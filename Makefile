# Platelet: the two commands are `make demo` and `make test` (see README.md).
# Each installs what is missing (scripts/deps.sh), builds, and runs.

MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc)
BUILD := build
BUILD_ASAN := build-asan
BUILD_FUZZ := build-fuzz
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan build-fuzz test test-fast demo bench fuzz format clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DPL_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_ASAN) -j$(JOBS)

build-fuzz: deps
	@CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DPL_FUZZ=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_FUZZ) -j$(JOBS)

# Everything: unit, simulator and integration tests on the release build, the unit and
# simulator tests again under ASan+UBSan, and a short run of every fuzz target.
test: build build-asan build-fuzz
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE fuzz
	@cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j$(JOBS) -L 'unit|sim'
	@cd $(BUILD_FUZZ) && ctest --output-on-failure -j$(JOBS) -L fuzz

# The release-build tests alone, for a quick loop while working.
test-fast: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE fuzz

demo: build
	@scripts/demo.sh $(BUILD)/platelet

bench: build
	@$(BUILD)/platelet bench ledger

fuzz: build-fuzz
	@cd $(BUILD_FUZZ) && ctest --output-on-failure -L fuzz

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)

# Platelet: the two commands are `make demo` and `make test` (see README.md).
# Each installs what is missing (scripts/deps.sh), builds, and runs.

MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc)
BUILD := build
BUILD_ASAN := build-asan
BUILD_FUZZ := build-fuzz
BUILD_RELEASE := build-release
BUILD_CLANG := build-clang
CMAKE_FLAGS ?=
# Our own builds treat warnings as errors; a plain `cmake` build (a packager's) does not.
DEV_FLAGS := -DPL_WERROR=ON $(CMAKE_FLAGS)
# make install: where to (PREFIX) and under which staging root (DESTDIR).
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps build build-asan build-fuzz build-release build-clang test test-fast demo \
	bench fuzz format clean install package

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(DEV_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DPL_SANITIZE=ON $(DEV_FLAGS) >/dev/null
	@cmake --build $(BUILD_ASAN) -j$(JOBS)

build-fuzz: deps
	@CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DPL_FUZZ=ON $(DEV_FLAGS) >/dev/null
	@cmake --build $(BUILD_FUZZ) -j$(JOBS)

# Build-only checks that other optimisation levels and compilers stay warning-free: Release
# with gcc (where -O3 finds more maybe-uninitialized paths) and the default build with clang.
build-release: deps
	@CC=gcc cmake -S . -B $(BUILD_RELEASE) -DCMAKE_BUILD_TYPE=Release $(DEV_FLAGS) >/dev/null
	@cmake --build $(BUILD_RELEASE) -j$(JOBS)

build-clang: deps
	@CC=clang cmake -S . -B $(BUILD_CLANG) $(DEV_FLAGS) >/dev/null
	@cmake --build $(BUILD_CLANG) -j$(JOBS)

# Everything: unit, simulator and integration tests on the release build, the unit and
# simulator tests again under ASan+UBSan, and a short run of every fuzz target. The gcc
# Release and clang builds are compiled, warning-free, but their tests are not run again.
test: build build-asan build-fuzz build-release build-clang
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

# The binary, its man page and bash completion, the systemd unit and the default config
# (an existing config is kept), with the unit's paths written for PREFIX (/usr puts the
# config in /etc, the unit in /lib/systemd).
install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# The Debian package, build/platelet_<version>_<arch>.deb (CPack; deploy/package.cmake).
package: build
	@cd $(BUILD) && cpack -G DEB

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_RELEASE) $(BUILD_CLANG)

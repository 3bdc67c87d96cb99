# Developer commands.  CMake does the building; this file only names the
# everyday jobs.  Each one first checks the Debian packages (scripts/deps.sh
# installs what is missing when run as root, and says what to install
# otherwise).
#
#   make demo     build (build/, gcc, RelWithDebInfo) and run `memgov demo`,
#                 its samples and picture in $(BUILD)/demo.tsv and demo.png
#   make test     all tests: plain, ASan+UBSan, TSan, packaging, fuzz
#                 (see scripts/test.sh)
#   make bench    build and run the benchmarks (bench/run.sh)
#   make build    just build build/
#   make clean    remove every build directory
#
# Variables: BUILD (default build), JOBS (parallel compile jobs, default: the
# number of CPUs), DEMO_ARGS (extra arguments for `memgov demo`).

BUILD ?= build
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)
DEMO_ARGS ?=

BUILD_DIRS := build build-asan build-tsan build-fuzz
# CMake's own make runs are not sub-makes of this one.
CMAKE := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake

.PHONY: all deps build demo test bench clean

all: build

deps:
	@bash scripts/deps.sh

# gcc for the main build (CC only matters the first time a directory is
# configured; CMake keeps the compiler in its cache afterwards).
build: deps
	@CC=$${MGOV_CC:-gcc} $(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@$(CMAKE) --build $(BUILD) -j $(JOBS)

demo: build
	@exe=$(BUILD)/tools/memgov; \
	if [ ! -x "$$exe" ]; then exe=$$(find $(BUILD) -type f -name memgov -perm -u+x | head -n1); fi; \
	if [ -z "$$exe" ]; then echo "make demo: the memgov tool was not built (see tools/)" >&2; exit 1; fi; \
	set -- --tsv $(BUILD)/demo.tsv --png $(BUILD)/demo.png $(DEMO_ARGS); \
	echo "+ $$exe demo $$*"; \
	"$$exe" demo "$$@"

test: deps
	@bash scripts/test.sh

bench: build
	@if [ -f bench/run.sh ]; then \
		bash bench/run.sh $(BUILD); \
	else \
		echo "make bench: bench/run.sh does not exist (yet)" >&2; exit 1; \
	fi

# clean needs no package, so a failed check does not stop it.
clean:
	@bash scripts/deps.sh || true
	rm -rf $(BUILD_DIRS) $(filter-out $(BUILD_DIRS),$(BUILD))

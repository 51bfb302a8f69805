# Thin wrapper over CMake: `make`, `make test`, `make sanitize`, `make speedrun`.
BUILD ?= build
ASAN_BUILD ?= build-asan
# The command-line tests that also run under the sanitizers: the ones that feed bad input and
# exercise error paths; the long training runs (speedrun, audit, MPI) run only in `make test`.
SANITIZE_CLI ?= cli_test_(train_errors|device|train_resume|generate|tokenize_bytes|sft|data_prepare|tokenizer_cli|serve|eval|arena|report)
JOBS ?= $(shell nproc)

.PHONY: all test sanitize speedrun bench clean deps

# `deps` is a no-op once every package is installed (scripts/install-deps.sh checks first).
all: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: all
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

sanitize: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDK_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -L unit
	ASAN_OPTIONS=detect_leaks=1 ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -R '$(SANITIZE_CLI)'

speedrun: all
	$(BUILD)/dokja speedrun $(SPEEDRUN_ARGS)

bench: all
	bash bench/train_throughput

deps:
	bash scripts/install-deps.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

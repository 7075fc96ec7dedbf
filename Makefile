# gotui: `make demo` to see it, `make test` to check it. Both run `make setup` first,
# which installs only what is missing (tools/setup.sh).
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)

VENV := .venv
DEMO_DIR := .cache/demo
DEMO_BIN := $(DEMO_DIR)/demo
DEMO_PID := $(DEMO_DIR)/demo.pid
DEMO_LOG := $(DEMO_DIR)/demo.log
DEMO_ADDR ?= 127.0.0.1:8089
DEMO_SRC := $(wildcard tests/fixtures/demo/*.go tests/fixtures/demo/*.c tests/fixtures/demo/*.h) tests/fixtures/demo/go.mod

.PHONY: setup demo demo-run demo-stop test lint

setup:
	@tools/setup.sh

# `gotui demo` (build + run + attach) when the CLI has it; else the same steps here.
demo: setup
	@if $(VENV)/bin/gotui demo --help >/dev/null 2>&1; then \
		exec $(VENV)/bin/gotui demo --addr $(DEMO_ADDR) --dir $(DEMO_DIR); \
	else \
		make --no-print-directory demo-run && exec $(VENV)/bin/gotui attach "$$(cat $(DEMO_PID))"; \
	fi

# Debug build (-N -l) so Delve sees locals such as profileHandler's userID.
$(DEMO_BIN): $(DEMO_SRC)
	@mkdir -p $(DEMO_DIR)
	@cd tests/fixtures/demo && CGO_ENABLED=1 GOTOOLCHAIN=local \
		go build -gcflags='all=-N -l' -o $(abspath $(DEMO_BIN)) .
	@echo "demo: built $(DEMO_BIN)"

# Start the demo in the background unless the pidfile names a live demo process.
demo-run: $(DEMO_BIN)
	@pid=$$(cat $(DEMO_PID) 2>/dev/null || true); \
	if [ -n "$$pid" ] && [ "$$(readlink /proc/$$pid/exe 2>/dev/null)" = "$(abspath $(DEMO_BIN))" ]; then \
		echo "demo: already running, pid $$pid"; exit 0; \
	fi; \
	setsid $(DEMO_BIN) -addr $(DEMO_ADDR) >$(DEMO_LOG) 2>&1 </dev/null & pid=$$!; \
	echo $$pid >$(DEMO_PID); \
	for _ in $$(seq 100); do \
		grep -q '^READY' $(DEMO_LOG) && { echo "demo: $$(head -n 1 $(DEMO_LOG)), pid $$pid"; exit 0; }; \
		kill -0 $$pid 2>/dev/null || break; sleep 0.1; \
	done; \
	echo "demo: failed to start: $$(tail -n 1 $(DEMO_LOG))" >&2; exit 1

demo-stop:
	@pid=$$(cat $(DEMO_PID) 2>/dev/null || true); \
	if [ -n "$$pid" ] && [ "$$(readlink /proc/$$pid/exe 2>/dev/null)" = "$(abspath $(DEMO_BIN))" ]; then \
		kill $$pid && echo "demo: stopped pid $$pid"; \
	else echo "demo: not running"; fi; \
	rm -f $(DEMO_PID)

test: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/pytest -q -p no:cacheprovider --durations=30

lint: setup
	@$(VENV)/bin/ruff check .

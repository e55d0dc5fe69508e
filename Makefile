# dispatch-tui: every target installs what it needs, from nothing, idempotently.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := $(CURDIR)/.tools/bin
# The one place the livekit-server version is pinned: the newest tag `go install` accepts
# (v1.13.6 and later carry `replace` directives in go.mod and are refused).
LIVEKIT_SERVER_TAG := v1.13.5
LIVEKIT_SERVER := $(TOOLS)/livekit-server
export PATH := $(TOOLS):$(PATH)

.PHONY: run test lint install server clean redis chromium cluster bench

run: install server ## Open the dashboard (starts a local livekit-server unless LIVEKIT_URL is set)
	$(VENV)/bin/dispatch-tui

test: install server redis chromium ## Lint, type-check and run the whole suite (cluster tests included)
	$(VENV)/bin/ruff check tui agents tests bench
	$(VENV)/bin/ruff format --check tui agents tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check tui agents tests bench
	$(VENV)/bin/ruff format --check tui agents tests bench
	$(VENV)/bin/mypy

bench: install server redis ## Benchmarks on a local livekit-server: table on stdout, bench/results.json
	$(PY) -m bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

cluster: install server redis ## A local cluster in the foreground: Redis, 2 nodes, 2 workers (CAPACITY=N: fixed calls per worker); Ctrl-C stops it
	$(PY) -m tui.cluster $(if $(CAPACITY),--capacity $(CAPACITY))

redis: ## redis-server (the cluster tests' and `make cluster`'s shared state): apt-get install when missing
	@if command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]; then \
		exit 0; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "Installing redis-server with apt-get (needed by the cluster tests)..."; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; \
	else \
		echo "redis-server not found and apt-get is unavailable: install Redis 6+ with your package manager (it must provide redis-server on PATH)." >&2; \
		exit 1; \
	fi

chromium: ## headless Chromium (the call report's browser test): apt-get install when missing
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then \
		exit 0; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "Installing chromium with apt-get (needed by the call report test)..."; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "chromium not found and apt-get is unavailable: install Chromium with your package manager (it must provide chromium on PATH)." >&2; \
		exit 1; \
	fi

server: ## livekit-server: one on PATH, else `go install` into .tools/bin
	@if [ -x "$(LIVEKIT_SERVER)" ] || command -v livekit-server >/dev/null 2>&1; then \
		exit 0; \
	elif command -v go >/dev/null 2>&1; then \
		echo "Building livekit-server $(LIVEKIT_SERVER_TAG) with go install (first time only, a few minutes)..."; \
		mkdir -p $(TOOLS) && tmp=$$(mktemp -d) && \
		{ GOBIN=$$tmp GOFLAGS=-buildvcs=false go install github.com/livekit/livekit-server/cmd/server@$(LIVEKIT_SERVER_TAG) || \
		  { echo "go install could not reach the module proxy; retrying from Go's module cache (GOPROXY=off)..."; \
		    GOBIN=$$tmp GOFLAGS=-buildvcs=false GOPROXY=off go install github.com/livekit/livekit-server/cmd/server@$(LIVEKIT_SERVER_TAG); }; } && \
		mv $$tmp/server $(LIVEKIT_SERVER) && rmdir $$tmp && \
		echo "Installed $(LIVEKIT_SERVER)"; \
	else \
		echo "livekit-server not found and Go is not installed: install Go (https://go.dev/dl) and re-run, or put livekit-server on PATH." >&2; \
		exit 1; \
	fi

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache

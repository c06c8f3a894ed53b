# ispdesk — `make demo` runs it, `make test` tests it. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
# uv from PATH, else a private copy installed from PyPI into .uv/
UV := $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)
# mysqlclient compiles against libmariadb; include the MariaDB driver only where it can build.
EXTRAS := --extra postgres $(shell pkg-config --exists libmariadb 2>/dev/null && echo --extra mysql)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint typecheck bench install install-dev chromium messages clean

.uv/bin/uv:
	@command -v uv >/dev/null 2>&1 || { $(PYTHON) -m venv .uv && .uv/bin/pip install -q uv; }

install: $(if $(findstring .uv/,$(UV)),.uv/bin/uv)
	$(UV) sync --frozen --no-dev $(EXTRAS)

install-dev: $(if $(findstring .uv/,$(UV)),.uv/bin/uv)
	$(UV) sync --frozen $(EXTRAS)

chromium:
	@scripts/ensure-chromium.sh

demo: install
	HOST=$(HOST) PORT=$(PORT) $(UV) run --frozen --no-sync ispdesk demo --host $(HOST) --port $(PORT)

lint: install-dev
	$(UV) run --frozen --no-sync ruff check ispdesk
	$(UV) run --frozen --no-sync ruff format --check ispdesk

typecheck: install-dev
	$(UV) run --frozen --no-sync mypy ispdesk

test: install-dev chromium lint
	$(UV) run --frozen --no-sync pytest

messages: install-dev
	cd ispdesk && ../$(if $(findstring .uv/,$(UV)),.uv/bin/uv,uv) run --frozen --no-sync django-admin makemessages -l es_AR -l es --no-obsolete --ignore "tests/*"
	cd ispdesk && ../$(if $(findstring .uv/,$(UV)),.uv/bin/uv,uv) run --frozen --no-sync django-admin compilemessages

bench:
	@echo "The benchmark harness arrives with issue 7." && exit 1

clean:
	rm -rf .venv .uv var

# The two commands of the README: `make demo` and `make test`. Everything else is what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test install browser lint typecheck pytest e2e bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# Browser tests drive Debian's chromium; as root we install it, otherwise we say how.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "Could not install chromium; browser tests will be skipped."; \
	  else echo "Browser tests need /usr/bin/chromium (sudo apt-get install chromium); they will be skipped."; fi; \
	fi

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy .

pytest: install
	$(BIN)/pytest

test: install browser lint typecheck pytest

# The demo talks to the sandbox CRMs served by the demo server itself.
demo: export SANDBOX_ENABLED ?= true
demo: export SANDBOX_BASE_URL ?= http://$(HOST):$(PORT)
demo: install
	$(BIN)/python manage.py migrate --noinput --verbosity 1
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py sandbox_demo
	@echo "Skalin runs at http://$(HOST):$(PORT)  (Ctrl-C stops the web server, the worker and beat)"
	@trap 'kill 0' EXIT INT TERM; \
	  $(BIN)/celery -A skalin worker --loglevel=WARNING --concurrency=1 & \
	  $(BIN)/celery -A skalin beat --loglevel=WARNING --schedule=var/celerybeat-schedule & \
	  $(BIN)/python manage.py sandbox_demo --first-sync & \
	  $(BIN)/gunicorn skalin.wsgi --bind $(HOST):$(PORT) --workers 2 --timeout 120 --access-logfile - ; \
	  wait

bench: install
	$(BIN)/python bench/customer_list.py

clean:
	rm -rf $(VENV) var staticfiles db.sqlite3*

# The two commands of README: `make run` (portal with demo data, no servers needed) and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export DJANGO_SETTINGS_MODULE ?= portal.settings.local

.PHONY: run test venv check migrate demo messages lint format clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

migrate: venv
	mkdir -p var/celery-queue var/celery-processed var/celery-control
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo

# Web server and a Celery worker side by side, on SQLite and the file-system broker under var/.
run: demo
	$(PY) manage.py compilemessages --ignore=$(VENV) >/dev/null 2>&1 || true
	@echo "Portal: http://127.0.0.1:$(PORT)/  (Ctrl-C stops the web server and the worker)"
	@trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(VENV)/bin/celery -A portal worker --beat --schedule=var/celerybeat-schedule --pool=solo --loglevel=WARNING & worker=$$!; \
	  $(PY) manage.py runserver 127.0.0.1:$(PORT)

test: venv
	DJANGO_SETTINGS_MODULE=portal.settings.test $(VENV)/bin/pytest

check: venv
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

messages: venv
	$(PY) manage.py makemessages -l zh_Hans --ignore=$(VENV) --ignore=var
	$(PY) manage.py compilemessages --ignore=$(VENV)

lint: venv
	$(VENV)/bin/ruff check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var

# consentscope: `make demo` and `make test` set themselves up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench wheel clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p reports/out
	$(VENV)/bin/consentscope replay captures/demo_session.mitm \
		--profile captures/demo_profile.toml \
		--consent-marker '/v1/privacy/consent' \
		--db sqlite:///reports/out/demo.db \
		--json reports/out/demo.json --html reports/out/demo.html
	@echo
	@echo "Report: reports/out/demo.html   JSON: reports/out/demo.json"

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) benchmarks/bench_detect.py

wheel: $(STAMP)
	$(PY) -m pip wheel --no-deps -w dist .

clean:
	rm -rf build dist *.egg-info reports/out .pytest_cache

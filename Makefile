# consentscope: `make demo` and `make test` set themselves up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Debian packages some tests drive for real (packet capture, transparent-mode namespaces,
# the HTML report in a browser, a throw-away PostgreSQL server for the batch tests: initdb
# and pg_ctl under /usr/lib/postgresql/*/bin, found by pg_ctlcluster). Installed when missing
# and we are root (CI is); tests that need one skip with the reason otherwise.
DEB_TOOLS := tcpdump:tcpdump iptables:iptables curl:curl chromium:chromium pg_ctlcluster:postgresql \
             editcap:wireshark-common tshark:tshark openssl:openssl

.PHONY: demo test lint typecheck bench fuzz wheel clean venv debs bytecode

COMPILED := $(VENV)/.compiled

venv: $(COMPILED)

# The venv and the dependencies; the compile is $(COMPILED)'s (once, not twice).
$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	CONSENTSCOPE_PURE=1 $(PY) -m pip install --quiet -e '.[dev]'
	$(MAKE) --no-print-directory bytecode
	touch $(STAMP)

# detectors/ (and the tnetstring walk) compiled in place by mypyc (setup.py; about a minute), again whenever one
# changes: the package refuses a compiled module older than its source. CONSENTSCOPE_PURE=1
# leaves them interpreted (the same findings, ~1.5x slower).
$(COMPILED): $(STAMP) $(wildcard detectors/*.py) consentscope/readers/_tnetstring.py
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(COMPILED)

# An editable install leaves our sources uncompiled, and with PYTHONDONTWRITEBYTECODE set (as
# on some CI machines) every command compiled ~90 modules again (0.2 s a start); a wheel
# ships them compiled. compileall writes the bytecode whatever that setting says.
bytecode:
	$(PY) -m compileall -q -j0 consentscope detectors tracker_db reports addons >/dev/null

demo: $(COMPILED)
	mkdir -p reports/out
	$(VENV)/bin/consentscope replay captures/demo_session.mitm \
		--profile captures/demo_profile.toml \
		--consent-marker '/v1/privacy/consent' \
		--suppressions captures/demo_project.toml \
		--db sqlite:///reports/out/demo.db \
		--json reports/out/demo.json --html reports/out/demo.html
	@echo
	@echo "Report: reports/out/demo.html   JSON: reports/out/demo.json"

debs:
	@missing=""; for pair in $(DEB_TOOLS); do cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) >/dev/null \
	      || echo "warning: could not install$$missing; the tests that need them will skip"; \
	  else echo "note: not installing$$missing (not root or no apt-get); the tests that need them will skip"; fi; \
	fi

test: $(COMPILED) debs typecheck
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: $(COMPILED)
	$(PY) -m ruff check .

# mypy on the installed layout: the package maps detectors/, reports/, tracker_db/ and addons/
# under consentscope, so the check runs on a tree of links shaped like the wheel.
typecheck: $(COMPILED)
	rm -rf build/typecheck && mkdir -p build/typecheck/consentscope
	for f in consentscope/*; do ln -s ../../../$$f build/typecheck/consentscope/; done
	for d in detectors tracker_db reports addons; do ln -s ../../../$$d build/typecheck/consentscope/$$d; done
	cd build/typecheck && ../../$(PY) -m mypy --config-file ../../pyproject.toml -p consentscope

# Requests through the addon after the rounds, memory sampled: about an hour of a phone's
# traffic in a manual test (5-10 requests/s); ~70 s on the bench's loopback.
SOAK ?= 30000

bench: $(COMPILED) bytecode
	rm -f reports/out/bench.json
	$(PY) benchmarks/bench_detect.py
	$(PY) benchmarks/bench_proxy.py --soak $(SOAK)
	$(PY) benchmarks/bench_pcap.py
	$(PY) benchmarks/bench_pcap.py --tls
	$(PY) benchmarks/bench_batch.py
	$(PY) benchmarks/bench_replay.py
	$(PY) benchmarks/table.py

# A long fuzz run (not part of `make test`): atheris (coverage-guided) when it installs,
# else hypothesis with CONSENTSCOPE_FUZZ_EXAMPLES examples. Crashes land in build/fuzz/crashes/;
# each becomes a tests/regressions/*.bin file that `make test` replays.
FUZZ_SECONDS ?= 600
fuzz: $(COMPILED)
	$(PY) -c 'import atheris' 2>/dev/null || $(PY) -m pip install --quiet atheris \
		|| echo "note: atheris did not install; fuzzing with hypothesis"
	$(PY) benchmarks/fuzz.py --seconds $(FUZZ_SECONDS)

wheel: $(COMPILED)
	$(PY) -m pip wheel --no-deps -w dist .

clean:
	rm -rf build dist *.egg-info reports/out .pytest_cache

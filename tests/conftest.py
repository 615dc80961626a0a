"""Shared test set-up. Fixture modules named tests/fixtures_*.py (real servers: the embedded graph
store, the local LLM server, Beam's job service) are loaded as pytest plugins automatically."""
import os
import pathlib

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_HERE = pathlib.Path(__file__).parent
pytest_plugins = sorted(f"tests.{p.stem}" for p in _HERE.glob("fixtures_*.py"))

REPO = _HERE.parent
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
MNRE_DIR = SHARED_DATA / "mnre"

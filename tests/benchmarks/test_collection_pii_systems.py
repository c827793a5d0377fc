"""The collection benchmark's comparison systems (packages/collection/benchmarks, not in the package): the
Presidio wrapper redacts what Presidio's analyzer finds. Its requirements (presidio-analyzer, spaCy without
a model) come with requirements-dev.txt: it runs where the harness runs, not in the package's own venv."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "packages" / "collection" / "benchmarks"))

from sharelm_bench.systems import presidio  # noqa: E402


def test_presidio_wrapper_replaces_what_the_analyzer_finds():
    out = presidio()("write to bob@example.com today")
    assert "bob@example.com" not in out and "<EMAIL_ADDRESS>" in out

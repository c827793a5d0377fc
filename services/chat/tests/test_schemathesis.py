"""A stateful schemathesis run over the live service (issue 14, "Done when"): sequences of calls that follow
the OpenAPI links (a turn -> its conversation: read, rate, opt in, delete, with the secret the turn
returned), on generated valid and invalid input. No answer may be a 5xx or stray from the schema."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import (
    content_type_conformance,
    ensure_resource_availability,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from sharedllm_chat.background_server import serve_in_thread
from sharedllm_chat.main import create_app
from sharedllm_chat.settings import Settings

pytestmark = pytest.mark.slow

MODEL = "test-model"
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    use_after_free,
    ensure_resource_availability,
]


KEY = "sk-fuzz-0123456789abcdef"


@pytest.fixture(scope="module", params=["open", "keyed"])
def fuzzed_server(request, llama_loaded):
    """Open (conversations bound by their secret) and with a per-user key (bound by the key). Small limits
    keep each generated turn cheap; the body cap is small so that generated bodies reach it."""
    settings = Settings(
        served_model_name=MODEL,
        max_tokens_limit=4,
        default_max_tokens=2,
        max_input_tokens=2000,
        max_body_bytes=64 * 1024,
        max_queue=64,
        api_keys={KEY: "fuzzer"} if request.param == "keyed" else {},
    )
    with serve_in_thread(create_app(settings, llama_loaded)) as url:
        yield url, request.param


def test_stateful_run_finds_no_server_error_and_no_schema_mismatch(fuzzed_server):
    url, mode = fuzzed_server
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    seen: set[tuple[str, str, int]] = set()
    auth = {"Authorization": f"Bearer {KEY}"} if mode == "keyed" else {}

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": auth}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            seen.add((case.method, case.path, response.status_code))
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=60,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert ("POST", "/v1/chat/completions", 200) in seen, sorted(seen)
    if mode == "keyed":  # the links were followed: the turn's conversation was used
        used = {
            (m, code) for m, p, code in seen if p.startswith("/v1/conversations") and code in (200, 204, 409)
        }
        assert used, sorted(seen)

"""Schema-based fuzzing of every operation in our OpenAPI document (schemathesis; data that fits the schema
and data that does not), against the real servers on SQLite and PostgreSQL: never a 5xx, and never a status
the OpenAPI document does not declare.

The operations are driven one by one through `APIOperation.as_strategy` rather than schemathesis' pytest
loader, whose lazy fixture mode does not run under pytest 9 (`Function` has no `_nodeid`)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error, status_code_conformance
from schemathesis.generation.modes import GenerationMode

from sharelm_collector.devtools.samples import conversation

EXAMPLES = 6  # per operation and mode: bounded, the suite has a time budget


def fuzz(operation, mode: GenerationMode, headers: dict[str, str]):
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error, status_code_conformance])

    return run


def test_no_server_errors(api):
    schema = schemathesis.openapi.from_url(f"{api.server.url}/openapi.json")
    _, auth = api.contributor()
    # Something to find: fuzzed ids are mostly misses, this one is a hit for GET/PATCH/DELETE.
    api.post("/v1/conversations", json=conversation("fuzz-me", turns=2), headers=auth)
    operator = {"Authorization": "Bearer operator-secret-for-tests"}
    failures, ran = [], 0
    operations = [result.ok() for result in schema.get_all_operations()]
    # Erase-me last: it revokes the token every other operation is fuzzed with.
    operations.sort(key=lambda op: op.path == "/v1/contributors/me")
    assert len(operations) >= 12
    for operation in operations:
        headers = operator if operation.path == "/v1/export" else auth
        for mode in GenerationMode:
            run = fuzz(operation, mode, headers)
            try:
                run()
                ran += 1
            except Unsatisfiable:  # nothing to make invalid: an operation without parameters or body
                assert mode is GenerationMode.NEGATIVE
            except Exception as exc:  # collect every operation's failure, not only the first
                failures.append(f"{operation.method.upper()} {operation.path} [{mode.value}]: {exc}"[:1500])
    assert not failures, "\n\n".join(failures)
    assert ran >= len(operations) + 6  # every operation valid, and the ones with inputs invalid too

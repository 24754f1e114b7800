"""Fuzzing the HTTP API from its own OpenAPI schema (schemathesis), against the real 10k database.

Every operation of /schema/openapi.json gets generated requests (valid and invalid), with a chat
model configured so that /api/ask answers for real. The promise: no server error (5xx) and no
response that breaks the schema (status, content type, body).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from openai_compatible_server import OpenAICompatibleServer
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.modes import GenerationMode

from app.api import create_app
from app.core.settings import Settings

# Generated requests per operation and kind (valid, invalid). A valid /api/ask runs a hybrid search,
# the cross-encoder on 20 papers and the chat model, and a valid search may rerank: they get fewer, so
# that the whole run stays near half a minute on 2 cores.
EXAMPLES = 12
EXAMPLES_FOR = {("POST", "/api/ask"): 3, ("GET", "/api/search"): 8, ("POST", "/api/place"): 5}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed_app(mapped_10k: Settings) -> Iterator:
    with OpenAICompatibleServer(api_key="k") as llm:
        settings = dataclasses.replace(mapped_10k, llm_model="test-chat", openai_base_url=llm.base_url,
                                       openai_api_key="k", rerank_max_length=16)
        yield create_app(settings)


@pytest.fixture(scope="module")
def api_schema(fuzzed_app):
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", fuzzed_app)
    # Load the query embedder and the cross-encoder once, outside the generated requests' timeout.
    warm_up = schema["/api/search"]["GET"].Case(query={"q": "graph neural networks", "rerank": "true"})
    assert warm_up.call(timeout=300).status_code == 200
    return schema


def fuzz(operation, mode: GenerationMode) -> None:
    """Hypothesis over one operation's generated requests; raises the first check that fails."""
    examples = EXAMPLES_FOR.get((operation.method.upper(), operation.path), EXAMPLES)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        case.call_and_validate(checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE or takes_input(operation):
            raise  # only an operation without parameters or body has no invalid request


def takes_input(operation) -> bool:
    return bool(list(operation.iter_parameters())) or bool(operation.body)


# schemathesis' own strategies draw from `random`; hypothesis warns about it, harmlessly.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_no_server_error_and_no_response_breaks_the_schema(api_schema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12  # every endpoint of the API, new ones included, comes from the schema
    failures = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(operation, mode)
            except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:2000]}")
    assert not failures, "\n\n".join(failures)

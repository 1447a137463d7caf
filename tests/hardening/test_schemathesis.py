"""schemathesis against /api/v1/openapi.json: every operation, as several roles, finds no 500 and no answer
that breaks the documented schema (status codes, content type, body — the error body included).

In-process over WSGI: the Flask app of the `world`, so generated requests meet real data. Each
operation is fuzzed with schema-valid data (positive) — path ids both random and pinned to the
world's objects so requests reach the commands — and with schema-breaking data (negative). Bounded
and derandomised: the same inputs on every run.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from tests.hardening.world import World

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Path parameter names → the world's objects, for the pinned runs.
PINNED = {"year": "year", "enterprise_id": "enterprise", "voucher_id": "voucher", "provider_id": "provider",
          "product_id": "product", "contract_id": "contract", "batch_id": "batch", "claim_id": "claim",
          "case_id": "case", "subject_id": "enterprise"}
# (principal, generation mode, pin path ids to the world's objects?, examples per operation)
RUNS = [  # 20 inputs per operation in all
    ("operator", GenerationMode.POSITIVE, True, 5),
    ("approver", GenerationMode.POSITIVE, True, 2),
    ("finance", GenerationMode.POSITIVE, True, 2),
    ("enterprise", GenerationMode.POSITIVE, True, 3),
    ("provider", GenerationMode.POSITIVE, True, 3),
    ("auditor", GenerationMode.POSITIVE, False, 1),
    ("operator", GenerationMode.NEGATIVE, True, 2),
    ("provider", GenerationMode.NEGATIVE, False, 2),
]


def fuzz(world: World, schema: Any, principal: str, mode: GenerationMode, pinned: bool, examples: int,
         tally: dict[str, Any]) -> None:
    headers = world.headers(principal)
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {parameter.name for parameter in operation.path_parameters}
        path_parameters = {name: world.refs[PINNED[name]] for name in names
                           if pinned and name in PINNED and world.refs.get(PINNED[name]) is not None}
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None)

        @given(case=strategy)
        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case: Any) -> None:
            response = case.call(headers=headers)
            tally["inputs"] += 1
            tally["statuses"][response.status_code] = tally["statuses"].get(response.status_code, 0) + 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except BaseException as exc:  # noqa: BLE001 - FailureGroup is a BaseExceptionGroup; collect them all
                tally["failures"].append(f"{operation.label} as {principal} ({mode.value}): {str(exc)[:1500]}")

        run()


@pytest.mark.slow  # a fuzzing run over every operation, minutes not seconds
def test_schemathesis_finds_no_server_error_and_no_schema_break(world: World, capsys: Any) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", world.flask_app)
    tally: dict[str, Any] = {"inputs": 0, "statuses": {}, "failures": []}
    for principal, mode, pinned, examples in RUNS:
        fuzz(world, schema, principal, mode, pinned, examples, tally)
    operations = sum(1 for _ in schema.get_all_operations())
    assert not tally["failures"], f"{len(tally['failures'])} failures:\n" + "\n\n".join(tally["failures"][:10])
    assert tally["statuses"].get(500, 0) == 0
    with capsys.disabled():
        print(f"\nschemathesis: {tally['inputs']} inputs over {operations} operations, "
              f"answers {dict(sorted(tally['statuses'].items()))}")


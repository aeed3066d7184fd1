"""Schemathesis against both services' OpenAPI specs, as an admin and as a customer.

Each service runs as deployed (uvicorn in a process of its own) on a migrated database seeded
with real ids. Every operation of each spec gets a bounded number of generated requests, and
every answer must be: not a 5xx, and conform to the documented status codes, content types,
headers and schemas. Half of the cases use ids that exist, so the fuzzer reaches past 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from common.config import Settings
from common.db import Database
from tests.fixtures.access import Context, make_context
from tests.fixtures.databases import migrated_backend
from tests.fixtures.factories import bearer
from tests.fixtures.processes import PRODUCTS_APP, SALES_APP, ServiceProcess

Role = Literal["admin", "customer"]
SERVICES = {"products": PRODUCTS_APP, "sales": SALES_APP}
# Examples per operation. SQLite gets the full run; MariaDB a smoke run that proves the same
# inputs behave alike on the production dialect (strict types, column ranges) within the budget.
EXAMPLES = {"sqlite": 30, "mysql": 8}
NEGATIVE_EXAMPLES = {"sqlite": 15, "mysql": 5}


@dataclass
class FuzzTarget:
    backend_name: str
    urls: dict[str, str]
    ctx: Context
    settings: Settings


# Operations whose success ends every session of the caller (identity hardening): fuzzed as
# the context's idle account, with a token minted for the run, so the role under test keeps a
# valid token for the operations after them.
SESSION_ENDING = {"POST /auth/logout-all"}


@pytest.fixture(scope="module")
async def fuzz_target(
    backend_name: str, fresh_database_url: Callable[[str], object]
) -> AsyncIterator[FuzzTarget]:
    """Both services on one database of their own: what the fuzzer writes stays there."""
    backend = await migrated_backend(fresh_database_url, backend_name)
    database = Database.from_settings(backend.settings)
    try:
        ctx = await make_context(database, backend.settings)
    finally:
        await database.dispose()
    processes = {name: ServiceProcess(backend, module) for name, module in SERVICES.items()}
    try:
        for process in processes.values():
            await process.start()
        yield FuzzTarget(
            backend_name=backend_name,
            urls={name: process.url for name, process in processes.items()},
            ctx=ctx,
            settings=backend.settings,
        )
    finally:
        for process in processes.values():
            await process.kill()


def existing_ids(ctx: Context) -> dict[str, int]:
    return {
        "customer_id": ctx.customer.id,
        "category_id": ctx.category_id,
        "product_id": ctx.product_id,
        "review_id": ctx.review_id,
        "sale_id": ctx.sale_id,
        "reservation_id": ctx.reservation_id,
        "order_id": ctx.pending_order_id,
    }


def cases(
    operation: schemathesis.APIOperation,
    ctx: Context,
    mode: GenerationMode = GenerationMode.POSITIVE,
) -> st.SearchStrategy[Any]:
    """Generated cases, and as many again with the path's ids pointing at real rows."""
    names = {parameter.name for parameter in operation.path_parameters}
    if not names:
        return operation.as_strategy(mode)
    ids = {name: value for name, value in existing_ids(ctx).items() if name in names}
    return st.one_of(operation.as_strategy(mode), operation.as_strategy(mode, path_parameters=ids))


def schema_valid_input_passes_validation(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """`positive_data_acceptance`, for what a JSON schema can say.

    A schema-valid request may still break a rule a JSON schema cannot state: about other rows
    (an id that does not exist, `sold_at` in the future) or across fields ("exactly one of
    `delta` and `set_to`", "each product once"). Those 422s carry their own `code`, or come
    from the models' own validators (`value_error`). A built-in constraint (type, pattern,
    length, range) failing means the spec lied about that field: that is what this reports.
    """
    if response.status_code != 422:
        return None
    problem = response.json()
    constraints = [e for e in problem.get("errors") or () if e.get("type") != "value_error"]
    if problem.get("code") != "validation_failed" or not constraints:
        return None
    return positive_data_acceptance(ctx, response, case)


def fuzz_operation(
    operation: schemathesis.APIOperation,
    *,
    headers: dict[str, str],
    ctx: Context,
    examples: int,
    mode: GenerationMode = GenerationMode.POSITIVE,
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        # Shrinking could take minutes; the failing case is reported (with a curl line) as is.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases(operation, ctx, mode))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            headers=headers,
            excluded_checks=[positive_data_acceptance],
            additional_checks=[schema_valid_input_passes_validation],
            timeout=30,
        )

    run()


def fuzz_service(
    target: FuzzTarget, service: str, role: Role, examples: int, mode: GenerationMode
) -> None:
    ctx = target.ctx
    schema = schemathesis.openapi.from_url(target.urls[service] + "/openapi.json")
    headers = ctx.headers[role]
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        caller = bearer(ctx.idle, target.settings) if operation.label in SESSION_ENDING else headers
        try:
            fuzz_operation(operation, headers=caller, ctx=ctx, examples=examples, mode=mode)
        except Unsatisfiable:
            # Negative mode only: an operation with no parameters and no body has nothing
            # whose schema a request could break.
            assert mode is GenerationMode.NEGATIVE, operation.label
        # FailureGroup is a BaseExceptionGroup; catching it here reports every operation.
        except (Exception, FailureGroup) as error:
            failures.append(f"{operation.label}: {error}"[:1500])
    assert operations > 10  # the spec was really walked
    assert failures == [], "\n\n".join(failures)


@pytest.mark.parametrize("role", ["admin", "customer"])
@pytest.mark.parametrize("service", list(SERVICES))
def test_every_operation_survives_the_fuzzer(
    fuzz_target: FuzzTarget, service: str, role: Role
) -> None:
    examples = EXAMPLES[fuzz_target.backend_name]
    fuzz_service(fuzz_target, service, role, examples, GenerationMode.POSITIVE)


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_operation_refuses_what_its_schema_forbids(
    fuzz_target: FuzzTarget, service: str
) -> None:
    """Negative mode: requests that break the documented schema (wrong types, out-of-range
    numbers, missing required fields, bad formats) must get a documented 4xx, never a 2xx
    or a 5xx. As an admin, who reaches every operation."""
    examples = NEGATIVE_EXAMPLES[fuzz_target.backend_name]
    fuzz_service(fuzz_target, service, "admin", examples, GenerationMode.NEGATIVE)

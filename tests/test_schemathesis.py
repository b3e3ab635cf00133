"""Property-based run of schemathesis over the API's own OpenAPI document (through the WSGI
app, with an admin token): no generated request may produce a server error."""
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from core.api.testing import api, api_app  # noqa: F401

MAX_EXAMPLES = 12
#: time allowed per operation (the run grows with the API: a fixed total would fail as endpoints are added)
BUDGET_PER_OP_S = 1.5


def test_no_generated_request_gives_500(api, make, session):
    admin = make.user(superuser=True)
    store, product = make.store(), make.product(price="9.90")
    make.sale(store=store, products=[product], customer=make.customer(phone="13800138000"))
    token = api.token(admin)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api.app)
    ops = [r.ok() for r in schema.get_all_operations()]
    assert len(ops) >= 25
    budget = BUDGET_PER_OP_S * len(ops)
    started = time.monotonic()
    failures = []
    statuses = []

    for op in ops:
        if time.monotonic() - started > budget:
            pytest.fail(f"schemathesis run over budget ({budget:.0f}s for {len(ops)} operations) "
                        f"at {op.method} {op.path}")

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def run(case):
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            session.commit()
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append((op.method.upper(), op.path, case.path_parameters, case.query, case.body,
                                 response.status_code, response.text[:300]))
            assert response.status_code < 500

        try:
            run()
        except AssertionError:
            pass
    assert not failures, "\n".join(map(str, failures[:5]))
    assert len(statuses) > len(ops) * 3
    assert sum(200 <= s < 300 for s in statuses) > len(ops) // 2, "the token did not authenticate"
    assert 401 not in statuses

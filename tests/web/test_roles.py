"""Routes that need a supervisor or an admin refuse the roles below."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from kefu.web.dependencies import RequireAdmin, RequireSupervisor

from .conftest import ADMIN, AGENT, SUPERVISOR


@pytest.fixture
def client(app):
    # Stand-ins for the supervisor's dashboard and the admin's settings, which come later.
    @app.get("/api/test/supervisor")
    def supervisor_only(staff: RequireSupervisor) -> dict[str, str]:
        return {"role": staff.role}

    @app.get("/test/supervisor-page")
    def supervisor_page(staff: RequireSupervisor) -> dict[str, str]:
        return {"role": staff.role}

    @app.get("/api/test/admin")
    def admin_only(staff: RequireAdmin) -> dict[str, str]:
        return {"role": staff.role}

    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("login", "supervisor_status", "admin_status"),
    [(AGENT, 403, 403), (SUPERVISOR, 200, 403), (ADMIN, 200, 200)],
    ids=lambda x: getattr(x, "role", x),
)
def test_each_role_reaches_what_it_should(client, log_in, login, supervisor_status, admin_status):
    log_in(login.username)

    assert client.get("/api/test/supervisor").status_code == supervisor_status
    assert client.get("/api/test/admin").status_code == admin_status


def test_a_refused_role_gets_a_page_in_its_language(client, log_in):
    log_in(AGENT.username)

    page = client.get("/test/supervisor-page", headers={"Accept": "text/html"})
    api = client.get("/api/test/supervisor", headers={"Accept": "text/html"})

    assert page.status_code == 403
    assert "你的角色无权查看这个页面" in page.text
    assert api.json() == {"detail": "Your role does not allow this"}  # /api/ answers JSON to everyone

"""The integrations overview lists every external system for admins only."""

from __future__ import annotations

from django.utils import timezone

from ispdesk.pipeline.models import ExternalSystem, SystemKind


def test_an_admin_sees_every_system_and_its_state(admin_client):
    ExternalSystem.objects.create(
        kind=SystemKind.SPLYNX,
        enabled=True,
        last_test_at=timezone.now(),
        last_test_ok=False,
        last_test_detail="bad credentials",
    )
    response = admin_client.get("/integrations/", HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 200
    for kind in ("splynx", "gestionreal", "ticket_hook"):
        assert f'data-system="{kind}"' in page
    assert 'href="/integrations/splynx/"' in page
    assert 'title="bad credentials"' in page
    assert 'href="/integrations/csv/"' in page


def test_operators_and_supervisors_may_not_see_it(operator_client, supervisor_client, client):
    assert operator_client.get("/integrations/").status_code == 403
    assert supervisor_client.get("/integrations/").status_code == 403
    assert client.get("/integrations/").status_code == 302

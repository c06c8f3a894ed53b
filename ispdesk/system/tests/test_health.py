from django.db.migrations.recorder import MigrationRecorder

from ispdesk.system.health import readiness_problem


def test_it_answers_healthz(client):
    # No `db` fixture: a liveness probe must answer without touching the database.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_it_is_ready_when_migrated(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_it_is_not_ready_while_a_migration_is_pending(client, db):
    # Forgetting the record of the last applied migration makes it pending again; the test's
    # transaction restores the record, so no schema is touched.
    MigrationRecorder.Migration.objects.filter(app="accounts").order_by("-id").first().delete()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "1 migration(s) pending"}


def test_readiness_problem_is_none_when_migrated(db):
    assert readiness_problem() is None

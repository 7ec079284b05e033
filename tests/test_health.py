"""/healthz says the process is alive; /readyz says the database answers and is migrated."""

from __future__ import annotations

from storage import migrate


async def test_healthz(client):
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_when_migrated(client):
    response = await client.get("/readyz")
    assert response.status == 200
    assert (await response.json())["revision"] == migrate.head_revision()


async def test_readyz_is_503_when_the_database_is_behind(client, db, database_url):
    await migrate.downgrade_async(database_url, "base")
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["reason"] == "database not migrated"


async def test_readyz_is_503_when_the_database_is_unreachable(client, bot, monkeypatch):
    async def broken(_engine):
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr("bot.api.health.current_revision", broken)
    response = await client.get("/readyz")
    assert response.status == 503
    assert await response.json() == {"status": "unavailable", "reason": "database unavailable"}

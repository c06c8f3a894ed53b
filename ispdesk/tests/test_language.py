"""Spanish by default; English when the person chooses it with the switch."""


def test_pages_are_spanish_even_when_the_browser_prefers_english(client, operator):
    client.force_login(operator)
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response.headers["Content-Language"] == "es-ar"
    assert "Inicio" in response.content.decode()


def test_the_switch_makes_pages_english(client, operator):
    client.force_login(operator)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="es-AR")
    assert response.headers["Content-Language"] == "en"
    assert "Home" in response.content.decode()


def test_api_clients_may_ask_for_english(client):
    response = client.get("/api/auth/me", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert response.json()["message"] == "Authentication required."

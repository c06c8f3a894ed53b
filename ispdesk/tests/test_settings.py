"""The settings module, loaded afresh with a controlled environment.

Most cases execute ispdesk/settings.py in this process under another module name (fast and
isolated from the live settings); the missing-SECRET_KEY case runs in a subprocess because
there the process failing to start is the point.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from unittest import mock

import pytest

from ispdesk.lib.env import ConfigError
from ispdesk.tests.environment import SETTINGS_FILE, SETTINGS_VARIABLES, settings_environment

GOOD_KEY = "k" * 50


@pytest.fixture
def load_settings(tmp_path):  # type: ignore[no-untyped-def]
    """Execute the settings module with exactly these variables (plus a data directory)."""

    def load(**variables: str) -> ModuleType:
        environment = settings_environment(tmp_path / "var", **variables)
        # clear=True: whatever the module (or python-dotenv) sets is undone afterwards.
        with mock.patch.dict(os.environ, environment, clear=True):
            spec = importlib.util.spec_from_file_location("settings_under_test", SETTINGS_FILE)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        return module

    return load


def test_the_controlled_environment_covers_the_main_variables():
    expected = {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "TIME_ZONE", "ISPDESK_TESTING"}
    assert expected <= set(SETTINGS_VARIABLES)


def test_debug_is_off_unless_asked(load_settings):
    assert load_settings(SECRET_KEY=GOOD_KEY).DEBUG is False
    assert load_settings(SECRET_KEY=GOOD_KEY, DEBUG="1").DEBUG is True


def test_a_bad_debug_value_is_an_error_naming_debug(load_settings):
    with pytest.raises(ConfigError) as caught:
        load_settings(SECRET_KEY=GOOD_KEY, DEBUG="sometimes")
    assert caught.value.name == "DEBUG"


def test_the_webhook_threads_take_at_most_half_the_pool(load_settings):
    postgres = {"SECRET_KEY": GOOD_KEY, "DATABASE_URL": "postgres://ispdesk@db:5432/ispdesk"}
    assert load_settings(**postgres, DATABASE_POOL_SIZE="10").WEBHOOK_THREADS == 4
    assert load_settings(**postgres, DATABASE_POOL_SIZE="4").WEBHOOK_THREADS == 2
    assert (
        load_settings(**postgres, DATABASE_POOL_SIZE="3", WEBHOOK_THREADS="8").WEBHOOK_THREADS == 1
    )
    assert (
        load_settings(**postgres, DATABASE_POOL_SIZE="0", WEBHOOK_THREADS="8").WEBHOOK_THREADS == 8
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(**postgres, DATABASE_POOL_SIZE="1")
    assert caught.value.name == "DATABASE_POOL_SIZE"


def test_production_allows_only_local_hosts_by_default(load_settings):
    assert load_settings(SECRET_KEY=GOOD_KEY).ALLOWED_HOSTS == ["localhost", "127.0.0.1"]


def test_a_short_secret_key_is_refused_outside_debug(load_settings):
    with pytest.raises(ConfigError) as caught:
        load_settings(SECRET_KEY="short")
    assert caught.value.name == "SECRET_KEY"


def test_debug_generates_and_keeps_a_secret_key_in_the_data_directory(load_settings, tmp_path):
    first = load_settings(DEBUG="1").SECRET_KEY
    assert len(first) >= 32
    assert (tmp_path / "var" / "secret_key").read_text() == first
    again = load_settings(DEBUG="1").SECRET_KEY
    assert again == first


def _import_settings(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import ispdesk.settings"],
        env=settings_environment(tmp_path / "var", **variables),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=SETTINGS_FILE.parent.parent,
        check=False,
    )


def test_a_missing_secret_key_stops_the_process_outside_debug_and_demo(tmp_path):
    result = _import_settings(tmp_path)
    assert result.returncode != 0
    assert "ConfigError: SECRET_KEY: is required" in result.stderr


def test_a_missing_secret_key_is_fine_in_demo_mode(tmp_path):
    result = _import_settings(tmp_path, ISPDESK_DEMO="1")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "secret_key").exists()


def test_sqlite_uses_immediate_transactions_wal_and_a_busy_timeout(load_settings, tmp_path):
    path = tmp_path / "data" / "desk.sqlite3"
    settings = load_settings(
        SECRET_KEY=GOOD_KEY, DATABASE_URL=f"sqlite:///{path}", SQLITE_BUSY_TIMEOUT="7"
    )
    database = settings.DATABASES["default"]
    assert database["ENGINE"] == "ispdesk.lib.sqlite_backend"
    assert database["NAME"] == str(path)
    # A connection stays open with its thread: opening one costs more than a webhook's insert.
    assert database["CONN_MAX_AGE"] is None
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert database["OPTIONS"]["timeout"] == 7
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
    assert path.parent.is_dir()


def test_sqlite_in_the_data_directory_is_the_default(load_settings, tmp_path):
    database = load_settings(SECRET_KEY=GOOD_KEY).DATABASES["default"]
    assert database["ENGINE"] == "ispdesk.lib.sqlite_backend"
    assert database["NAME"] == str(tmp_path / "var" / "ispdesk.sqlite3")


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_a_postgres_url_selects_postgresql(load_settings, scheme):
    settings = load_settings(
        SECRET_KEY=GOOD_KEY,
        DATABASE_URL=f"{scheme}://desk:pw@db.internal:6432/ispdesk",
        DATABASE_CONN_MAX_AGE="30",
        DATABASE_POOL_SIZE="0",
    )
    database = settings.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["HOST"] == "db.internal"
    assert (database["PORT"], database["NAME"]) == (6432, "ispdesk")
    assert (database["USER"], database["PASSWORD"]) == ("desk", "pw")
    assert database["CONN_MAX_AGE"] == 30
    assert database["CONN_HEALTH_CHECKS"] is True
    assert "pool" not in database.get("OPTIONS", {})


def test_postgresql_in_production_lends_connections_from_a_bounded_pool(load_settings):
    settings = load_settings(
        SECRET_KEY=GOOD_KEY, DATABASE_URL="postgres://desk:pw@db/ispdesk", DATABASE_POOL_SIZE="7"
    )
    database = settings.DATABASES["default"]
    assert database["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 7, "timeout": 20}
    # Django refuses persistent connections next to a pool.
    assert database["CONN_MAX_AGE"] == 0
    default = load_settings(SECRET_KEY=GOOD_KEY, DATABASE_URL="postgres://desk:pw@db/ispdesk")
    assert default.DATABASES["default"]["OPTIONS"]["pool"]["max_size"] == 10


def test_a_bad_pool_size_is_an_error_naming_it(load_settings):
    with pytest.raises(ConfigError, match="DATABASE_POOL_SIZE"):
        load_settings(
            SECRET_KEY=GOOD_KEY, DATABASE_URL="postgres://db/ispdesk", DATABASE_POOL_SIZE="-1"
        )


def test_a_mysql_url_selects_mysql_for_mariadb_with_utf8mb4(load_settings):
    settings = load_settings(SECRET_KEY=GOOD_KEY, DATABASE_URL="mysql://root@db.internal/ispdesk")
    database = settings.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.mysql"
    assert database["NAME"] == "ispdesk"
    assert database["OPTIONS"]["charset"] == "utf8mb4"
    assert "STRICT_TRANS_TABLES" in database["OPTIONS"]["init_command"]
    assert database["TEST"]["CHARSET"] == "utf8mb4"


@pytest.mark.parametrize(
    "url", ["oracle://scott:tiger@db/orcl", "ftp://files.example/db", "not a url"]
)
def test_an_unsupported_database_url_is_an_error_naming_it(load_settings, url):
    with pytest.raises(ConfigError) as caught:
        load_settings(SECRET_KEY=GOOD_KEY, DATABASE_URL=url)
    assert caught.value.name == "DATABASE_URL"
    assert "tiger" not in str(caught.value)


def test_a_bad_time_zone_is_an_error_naming_it(load_settings):
    with pytest.raises(ConfigError) as caught:
        load_settings(SECRET_KEY=GOOD_KEY, TIME_ZONE="Mars/Olympus_Mons")
    assert caught.value.name == "TIME_ZONE"


def test_a_good_time_zone_is_used(load_settings):
    assert load_settings(SECRET_KEY=GOOD_KEY, TIME_ZONE="UTC").TIME_ZONE == "UTC"


def test_the_default_language_and_time_zone_are_argentine(load_settings):
    settings = load_settings(SECRET_KEY=GOOD_KEY)
    assert settings.LANGUAGE_CODE == "es-ar"
    assert settings.TIME_ZONE == "America/Argentina/Buenos_Aires"


def test_a_bad_language_code_is_an_error_naming_it(load_settings):
    with pytest.raises(ConfigError) as caught:
        load_settings(SECRET_KEY=GOOD_KEY, LANGUAGE_CODE="klingon")
    assert caught.value.name == "LANGUAGE_CODE"


def test_without_redis_the_channel_layer_is_in_memory(load_settings):
    layer = load_settings(SECRET_KEY=GOOD_KEY).CHANNEL_LAYERS["default"]
    assert layer["BACKEND"] == "channels.layers.InMemoryChannelLayer"


def test_redis_url_switches_the_channel_layer_to_redis(load_settings):
    settings = load_settings(SECRET_KEY=GOOD_KEY, REDIS_URL="redis://cache.internal:6379/2")
    layer = settings.CHANNEL_LAYERS["default"]
    assert layer["BACKEND"] == "ispdesk.realtime.layers.PipelinedRedisChannelLayer"
    assert [host["address"] for host in layer["CONFIG"]["hosts"]] == [
        "redis://cache.internal:6379/2"
    ]


def test_an_idle_redis_read_outlasts_the_channel_layers_wait(load_settings):
    # channels_redis blocks up to `brpop_timeout` for a message; a socket timeout at or under
    # it (redis-py 8's default is 5 s, equal) crashed idle consoles.
    from channels_redis.core import RedisChannelLayer

    settings = load_settings(SECRET_KEY=GOOD_KEY, REDIS_URL="redis://cache.internal:6379/2")
    (host,) = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    assert host["socket_timeout"] > RedisChannelLayer.brpop_timeout + 1
    layer = RedisChannelLayer(hosts=[host])
    pool_options = layer.create_pool(0).connection_kwargs
    assert pool_options["socket_timeout"] == host["socket_timeout"]


def test_a_redis_url_with_another_scheme_is_an_error_naming_it(load_settings):
    with pytest.raises(ConfigError) as caught:
        load_settings(SECRET_KEY=GOOD_KEY, REDIS_URL="http://cache.internal:6379")
    assert caught.value.name == "REDIS_URL"


def test_production_hashes_passwords_with_argon2(load_settings):
    hashers = load_settings(SECRET_KEY=GOOD_KEY).PASSWORD_HASHERS
    assert hashers[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_a_mariadb_url_is_read_as_the_mysql_backend(load_settings):
    settings = load_settings(SECRET_KEY=GOOD_KEY, DATABASE_URL="mariadb://root@db.internal/help")
    database = settings.DATABASES["default"]
    assert (database["ENGINE"], database["NAME"]) == ("django.db.backends.mysql", "help")


def test_hand_over_batches_are_short_on_sqlite_where_webhooks_wait_for_them(load_settings):
    sqlite = load_settings(SECRET_KEY=GOOD_KEY)
    postgres = load_settings(SECRET_KEY=GOOD_KEY, DATABASE_URL="postgres://desk:pw@db/ispdesk")
    chosen = load_settings(SECRET_KEY=GOOD_KEY, INBOUND_BATCH_MS="120")

    assert (sqlite.INBOUND_BATCH_MS, postgres.INBOUND_BATCH_MS) == (40, 250)
    assert chosen.INBOUND_BATCH_MS == 120
    assert sqlite.INBOUND_HANDLING == "background"

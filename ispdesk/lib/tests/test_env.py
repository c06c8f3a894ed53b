import pytest

from ispdesk.lib.env import ConfigError, Env


def env(**values: str) -> Env:
    return Env(values)


def test_it_uses_the_default_when_a_variable_is_missing_or_empty():
    assert env().str("NAME", "fallback") == "fallback"
    assert env(NAME="").str("NAME", "fallback") == "fallback"
    assert env(NAME="  value  ").str("NAME", "fallback") == "value"


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "on", " On "])
def test_it_reads_true_booleans(raw):
    assert env(FLAG=raw).bool("FLAG", False) is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "off", ""])
def test_it_reads_false_booleans(raw):
    assert env(FLAG=raw).bool("FLAG", True) is False


def test_it_keeps_the_boolean_default_when_the_variable_is_missing():
    assert env().bool("FLAG", True) is True
    assert env().bool("FLAG", False) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "enabled"])
def test_it_rejects_a_bad_boolean_naming_the_variable(raw):
    with pytest.raises(ConfigError) as caught:
        env(DEBUG=raw).bool("DEBUG")
    assert caught.value.name == "DEBUG"
    assert str(caught.value).startswith("DEBUG: ")
    assert repr(raw) in str(caught.value)


def test_it_reads_integers_within_bounds():
    assert env(PORT="8080").int("PORT", 1, minimum=1, maximum=65535) == 8080
    assert env(PORT=" 1 ").int("PORT", 5, minimum=1) == 1
    assert env(PORT="65535").int("PORT", 5, maximum=65535) == 65535
    assert env().int("PORT", 5, minimum=1) == 5
    assert env(PORT="").int("PORT", 5) == 5


@pytest.mark.parametrize("raw", ["eight", "1.5", "0x10", "1e3"])
def test_it_rejects_a_non_integer_naming_the_variable(raw):
    with pytest.raises(ConfigError, match=r"^WORKERS: expected an integer") as caught:
        env(WORKERS=raw).int("WORKERS", 1)
    assert caught.value.name == "WORKERS"


def test_it_rejects_an_integer_under_the_minimum():
    with pytest.raises(ConfigError, match=r"^AXES_FAILURE_LIMIT: must be at least 1, got 0$"):
        env(AXES_FAILURE_LIMIT="0").int("AXES_FAILURE_LIMIT", 5, minimum=1)


def test_it_rejects_an_integer_over_the_maximum():
    with pytest.raises(ConfigError, match=r"^JOBS_POLL_SECONDS: must be at most 3600, got 3601$"):
        env(JOBS_POLL_SECONDS="3601").int("JOBS_POLL_SECONDS", 5, minimum=1, maximum=3600)


def test_it_does_not_bound_check_the_default():
    # Defaults are the code's own choice; only what an operator typed is checked.
    assert env().int("LIMIT", 0, minimum=1) == 0


def test_it_splits_lists_on_commas_dropping_blanks():
    hosts = env(ALLOWED_HOSTS=" a.example , b.example,, ,c ").list("ALLOWED_HOSTS")
    assert hosts == ["a.example", "b.example", "c"]


def test_it_returns_a_copy_of_the_default_list():
    default = ["localhost"]
    hosts = env().list("ALLOWED_HOSTS", default)
    hosts.append("evil.example")
    assert default == ["localhost"]
    assert env(ALLOWED_HOSTS="").list("ALLOWED_HOSTS") == []


def test_it_accepts_one_of_the_choices():
    assert env(LOG_LEVEL="DEBUG").choice("LOG_LEVEL", ["DEBUG", "INFO"], "INFO") == "DEBUG"
    assert env().choice("LOG_LEVEL", ["DEBUG", "INFO"], "INFO") == "INFO"


def test_it_rejects_a_value_outside_the_choices_naming_the_variable_and_choices():
    with pytest.raises(ConfigError) as caught:
        env(LOG_LEVEL="debug").choice("LOG_LEVEL", ["DEBUG", "INFO"], "INFO")
    assert caught.value.name == "LOG_LEVEL"
    assert "DEBUG, INFO" in str(caught.value)
    assert "'debug'" in str(caught.value)


def test_it_is_a_value_error_so_callers_can_catch_it_broadly():
    assert issubclass(ConfigError, ValueError)

"""Typed business settings: parsing submitted values and reading stored ones."""

import pytest

from ispdesk.system.config import (
    ConfigKey,
    ConfigValueError,
    clear_config_cache,
    config_key,
    get_config,
)
from ispdesk.system.models import SystemConfig

DAYS = ConfigKey("days", "int", 30, "Days.", minimum=1, maximum=365)
FLAG = ConfigKey("flag", "bool", False, "A flag.")
TAGS = ConfigKey("tags", "list", [], "Tags.")
MODE = ConfigKey("mode", "str", "auto", "Mode.", choices=("auto", "manual"), max_length=10)


@pytest.mark.parametrize(("raw", "parsed"), [(5, 5), ("5", 5), (" 12 ", 12), (7.0, 7), (365, 365)])
def test_it_parses_whole_numbers(raw, parsed):
    assert DAYS.parse(raw) == parsed


@pytest.mark.parametrize(
    "raw", [0, 366, "", "five", 7.5, True, None, [], float("inf"), float("nan")]
)
def test_it_refuses_what_is_not_a_whole_number_in_range(raw):
    with pytest.raises(ConfigValueError) as caught:
        DAYS.parse(raw)
    assert caught.value.key == "days"


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [(True, True), ("yes", True), ("Sí", True), ("on", True), (False, False), ("0", False)],
)
def test_it_parses_booleans_from_json_and_form_text(raw, parsed):
    assert FLAG.parse(raw) is parsed


@pytest.mark.parametrize("raw", ["maybe", 1, None])
def test_it_refuses_what_is_not_a_boolean(raw):
    with pytest.raises(ConfigValueError):
        FLAG.parse(raw)


def test_it_parses_lists_from_lines_commas_or_json_arrays():
    assert TAGS.parse("[TT]\n[TD], [TN]\n\n") == ["[TT]", "[TD]", "[TN]"]
    assert TAGS.parse([" a ", "", "b"]) == ["a", "b"]
    with pytest.raises(ConfigValueError):
        TAGS.parse(["a", 1])


def test_it_checks_text_length_and_choices():
    assert MODE.parse(" manual ") == "manual"
    for raw in ("sometimes", "x" * 11, 3):
        with pytest.raises(ConfigValueError):
            MODE.parse(raw)


def test_it_refuses_nul_characters_which_postgresql_cannot_store():
    with pytest.raises(ConfigValueError):
        MODE.parse("auto\x00")
    with pytest.raises(ConfigValueError):
        TAGS.parse(["a\x00b"])


def test_an_unknown_key_is_a_config_value_error():
    with pytest.raises(ConfigValueError) as caught:
        config_key("no_such_setting")
    assert caught.value.key == "no_such_setting"


def test_get_config_returns_the_default_without_a_row(db):
    assert get_config("job_run_retention_days") == 30


def test_get_config_falls_back_to_the_default_when_a_stored_value_no_longer_fits(db):
    SystemConfig.objects.create(key="job_run_retention_days", value="a week")
    assert get_config("job_run_retention_days") == 30


def test_get_config_reads_a_stored_value_once_the_cache_is_cleared(db):
    assert get_config("company_name") == "ispdesk"
    SystemConfig.objects.create(key="company_name", value="Fibra Sur")
    clear_config_cache()
    assert get_config("company_name") == "Fibra Sur"

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.lib.phones import PhoneError, format_phone, normalize_phone, whatsapp_digits


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("011 15 1234-5678", "+5491112345678"),
        ("+54 9 11 1234 5678", "+5491112345678"),
        ("5491112345678", "+5491112345678"),
        ("005491112345678", "+5491112345678"),
        ("5491112345678@s.whatsapp.net", "+5491112345678"),
        ("5491112345678:12@s.whatsapp.net", "+5491112345678"),
        ("0351 15 555 1234", "+5493515551234"),
        ("(0351) 155-551234", "+5493515551234"),
        ("+1 650 253 0000", "+16502530000"),
    ],
)
def test_it_normalises_argentine_and_foreign_numbers(raw, expected):
    assert normalize_phone(raw) == expected


def test_it_keeps_a_landline_as_a_landline_when_no_mobile_is_required():
    assert normalize_phone("011 4321-1234") == "+541143211234"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("11 1234-5678", "+5491112345678"), ("+54 351 555 1234", "+5493515551234")],
)
def test_it_reads_a_whatsapp_number_in_landline_shape_as_the_mobile(raw, expected):
    assert normalize_phone(raw, mobile=True) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("12", "not a valid number"),
        ("call me", "characters"),
        ("+99 1234 5678", "country code"),
        ("0800 222 1234", "not a mobile"),
    ],
)
def test_it_rejects_bad_numbers_with_the_reason(raw, reason):
    with translation.override("en"), pytest.raises(PhoneError) as caught:
        normalize_phone(raw, mobile=True)
    assert reason in caught.value.reason


def test_it_formats_for_people_and_for_gateways():
    assert format_phone("+5491112345678") == "+54 9 11 1234-5678"
    assert whatsapp_digits("+5491112345678") == "5491112345678"


local_numbers = st.integers(min_value=10_000_000, max_value=69_999_999)


@given(local=local_numbers, separator=st.sampled_from(["", " ", "-", "."]))
def test_every_written_shape_of_a_buenos_aires_mobile_gives_one_e164(local, separator):
    body = f"{local // 10_000}{separator}{local % 10_000:04d}"
    shapes = [f"011 15 {body}", f"+54 9 11 {body}", f"54911{local}", f"11 {body}"]
    results = {normalize_phone(shape, mobile=True) for shape in shapes}
    assert results == {f"+54911{local}"}


@given(st.text(max_size=30))
def test_it_never_fails_with_anything_but_a_phone_error(text):
    try:
        result = normalize_phone(text)
    except PhoneError as exc:
        assert exc.reason
    else:
        assert result.startswith("+")
        assert normalize_phone(result) == result


def test_a_remembered_number_gives_the_same_answer_and_a_bad_one_its_reason_in_each_language():
    from ispdesk.lib.phones import _known_e164

    _known_e164.cache_clear()
    answers = [normalize_phone("11 4321-1234", mobile=True) for _ in range(3)]
    assert answers == ["+5491143211234"] * 3
    assert _known_e164.cache_info().hits == 2
    # The same text read as any number and as a mobile: remembered apart.
    assert normalize_phone("11 4321-1234") == "+541143211234"
    assert _known_e164.cache_info().currsize == 2
    reasons = []
    for language in ("en", "es-ar"):
        with translation.override(language), pytest.raises(PhoneError) as caught:
            normalize_phone("0800 222 1234", mobile=True)
        reasons.append(caught.value.reason)
    assert reasons[0] != reasons[1] and "not a mobile" in reasons[0]
    assert _known_e164.cache_info().currsize == 2  # failures are never kept


@given(st.text(max_size=30))
def test_remembering_never_changes_an_answer(text):
    from ispdesk.lib.phones import _normalize

    def answer(call):  # type: ignore[no-untyped-def]
        try:
            return call()
        except PhoneError as exc:
            return ("error", exc.reason)

    first = answer(lambda: normalize_phone(text, mobile=True))
    assert first == answer(lambda: _normalize(text, "AR", True))
    assert answer(lambda: normalize_phone(text, mobile=True)) == first

"""Two first messages from the same new number at the same moment: exactly one contact.

Each thread has its own database connection. On PostgreSQL and MariaDB the second insert
waits on the first's unique key and fails once it commits; the action then fetches the
winner's row. SQLite serialises writers, so there the loser finds the row on its retry.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections, transaction

from ispdesk.contacts.actions import find_or_create_contact_for_whatsapp
from ispdesk.contacts.models import Contact

NUMBERS = [f"+54911223344{n:02d}" for n in range(10)]
THREADS = 2


def _race(phone: str, lid: str | None, outer_transaction: bool) -> list[tuple[int, bool]]:
    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def first_message() -> None:
        try:
            barrier.wait(timeout=30)
            if outer_transaction:
                with transaction.atomic():
                    contact, created = find_or_create_contact_for_whatsapp(
                        phone, lid, f"{phone[1:]}@s.whatsapp.net", "Cliente"
                    )
            else:
                contact, created = find_or_create_contact_for_whatsapp(
                    phone, lid, f"{phone[1:]}@s.whatsapp.net", "Cliente"
                )
            with lock:
                results.append((contact.pk, created))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first_message) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("outer_transaction", [False, True])
def test_simultaneous_first_messages_make_exactly_one_contact(outer_transaction: Any):
    for phone in NUMBERS:
        results = _race(phone, None, outer_transaction)
        assert len(results) == THREADS
        assert len({pk for pk, _created in results}) == 1, phone
        assert sorted(created for _pk, created in results) == [False, True], phone
    assert Contact.objects.count() == len(NUMBERS)
    assert (
        sorted(str(phone) for phone in Contact.objects.values_list("phone", flat=True)) == NUMBERS
    )


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_messages_from_a_lid_make_exactly_one_contact():
    for n in range(5):
        results = _race("", f"7000{n}@lid", outer_transaction=True)
        assert len({pk for pk, _created in results}) == 1
    assert Contact.objects.count() == 5

"""What one run of a pipeline job carries: a deadline, and one Splynx client.

A run must end well inside its lease (`settings.JOBS_LEASE_SECONDS`): past it another worker
takes the job over and the two run at once. So each loop that calls Splynx or Gestión Real
asks the run's `Deadline` before starting the next call and leaves the rest to the next run.

Each Splynx login opens a token session on the Splynx server, so a run builds at most one
client (`SplynxSession`, on first use and only when Splynx is enabled) and logs it out when
it ends. A client the caller passes in stays the caller's: it is not logged out here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from django.conf import settings

from ispdesk.integrations.splynx.client import SplynxClient
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.splynx_settings import build_client, is_configured

# The share of the lease a run may spend on calls; the rest is margin for the last call's
# timeout and retries.
LEASE_SHARE = 0.5


class Deadline:
    """When a run stops starting calls, on the monotonic clock (`clock` is for tests)."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.at = clock() + seconds

    @classmethod
    def for_run(cls, *, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(settings.JOBS_LEASE_SECONDS * LEASE_SHARE, clock=clock)

    def passed(self) -> bool:
        return self._clock() >= self.at


def splynx_enabled() -> bool:
    system = ExternalSystem.objects.filter(kind=SystemKind.SPLYNX).first()
    return system is not None and system.enabled and is_configured(system)


class SplynxSession:
    """The run's Splynx client: the caller's, or one built on first use when Splynx is
    enabled (None otherwise), logged out by `close()` (or leaving a `with` block)."""

    def __init__(self, client: SplynxClient | None = None) -> None:
        self._given = client
        self._built: SplynxClient | None = None
        self._checked = client is not None

    def client(self) -> SplynxClient | None:
        if self._given is not None:
            return self._given
        if not self._checked:
            self._checked = True
            if splynx_enabled():
                self._built = build_client()
        return self._built

    def close(self) -> None:
        built, self._built = self._built, None
        if built is not None:
            built.logout()  # never raises: a failed logout is only logged

    def __enter__(self) -> SplynxSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

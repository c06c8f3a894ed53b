"""The one error the Splynx client raises."""

from __future__ import annotations


class SplynxError(Exception):
    """A Splynx call failed.

    `permanent`: repeating the same call cannot help (bad credentials, not found, refused
    value); otherwise a later retry may succeed. `status`: the HTTP status, when an answer
    came. `maybe_created`: a create whose answer never arrived: Splynx may have stored it,
    so look it up before creating again. The message is for people and never holds a secret.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        status: int | None = None,
        maybe_created: bool = False,
        reason: str = "",
    ) -> None:
        self.message = message
        # What went wrong, for callers that word it themselves (the settings page):
        # credentials | permission | not_found | refused | rate_limited | server | timeout |
        # connect | unexpected.
        self.reason = reason
        self.permanent = permanent
        self.status = status
        self.maybe_created = maybe_created
        super().__init__(message)

    @property
    def unauthorized(self) -> bool:
        return self.status == 401

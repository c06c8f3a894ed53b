"""The ticket pipeline's jobs started by hand (admins), under `/api/tickets/` as the issue
names them: 202 with the queued run's id. `/download` and `/create` run one half of the flow
each; `/all_flow` runs all of it."""

from __future__ import annotations

from ninja import Router

from ispdesk.jobs.api_runs import add_job_starters
from ispdesk.pipeline import jobs

router = Router(tags=["tickets"])
add_job_starters(
    router,
    {
        "download": jobs.DOWNLOAD,
        "create": jobs.CREATE,
        "close": jobs.CLOSE_SYNC,
        "all_flow": jobs.TICKET_FLOW,
        "sync_status": jobs.SYNC_STATUS,
        "import_existing": jobs.IMPORT_EXISTING,
    },
)

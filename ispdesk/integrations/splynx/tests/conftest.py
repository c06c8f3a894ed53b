from ispdesk.testing.fakes.splynx import fake_splynx  # noqa: F401

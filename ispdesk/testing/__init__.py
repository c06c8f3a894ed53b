"""Pytest fixtures shared by ispdesk's tests: a live ASGI server and a private Redis.

Import the fixtures into a `conftest.py` beside the tests that use them.
"""

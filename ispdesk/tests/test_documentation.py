"""The README and `.env.example` stay true to the code."""

import re
from pathlib import Path

from django.conf import settings

PROJECT = Path(settings.PROJECT_DIR)
# Variables read by code but set by tooling, not by the people who configure ispdesk.
INTERNAL = {"ISPDESK_TESTING", "DJANGO_SETTINGS_MODULE"}


def variables_read_by(path: Path) -> set[str]:
    text = path.read_text()
    helpers = re.findall(r'env\.(?:str|bool|int|list|choice|raw)\(\s*"([A-Z_]+)"', text)
    direct = re.findall(r'os\.environ\.get\(\s*"([A-Z_]+)"', text)
    return set(helpers) | set(direct)


def documented_variables() -> set[str]:
    text = (PROJECT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_it_documents_every_environment_variable_in_env_example():
    read = set()
    for path in (PROJECT / "ispdesk").rglob("*.py"):
        if "tests" not in path.parts:
            read |= variables_read_by(path)
    assert read, "the scan found no variables at all"
    missing = read - documented_variables() - INTERNAL
    assert not missing, f".env.example does not document: {sorted(missing)}"


def test_it_starts_the_readme_with_what_ispdesk_is_then_the_two_commands():
    readme = (PROJECT / "README.md").read_text()
    assert readme.startswith("# ispdesk\n")
    assert readme.index("help desk for Internet service providers") < readme.index("make demo")
    assert readme.index("make demo") < readme.index("make test") < readme.index("## Configuration")

"""A controlled environment for loading the settings, here or in a subprocess.

Every variable the settings module reads is set to "" (meaning "use the default"): a
developer's shell or `.env` file cannot then leak into a test, because python-dotenv never
overrides a variable that is already set.
"""

import os
import re
from pathlib import Path

import ispdesk.settings

SETTINGS_FILE = Path(ispdesk.settings.__file__)
SETTINGS_VARIABLES = tuple(
    sorted(set(re.findall(r'env\.\w+\(\s*"([A-Z0-9_]+)"', SETTINGS_FILE.read_text())))
)


def settings_environment(data_dir: Path, **variables: str) -> dict[str, str]:
    """Exactly these variables, a data directory and PATH; the rest of the settings blank."""
    return {
        "PATH": os.environ.get("PATH", ""),
        **dict.fromkeys(SETTINGS_VARIABLES, ""),
        "ISPDESK_DATA_DIR": str(data_dir),
        **variables,
    }

"""Django's SQLite backend, with this process's writers taking turns (see `base`)."""

"""Where the server's own log lines go (handed to uvicorn as its ``log_config``).

- ``futarchy.access``: one JSON line per request (`api.middleware`), on standard output,
  unless the access log is turned off (``futarchy serve --no-access-log`` or
  ``ACCESS_LOG=0``);
- ``futarchy.error``: an unhandled error with its traceback and request id, on standard
  error;
- uvicorn's own messages at WARNING and above, on standard error.
"""

from __future__ import annotations

from typing import Any


def log_config(access_log: bool = True) -> dict[str, Any]:
    """A `logging.config.dictConfig` document for the server."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "line": {"format": "%(message)s"},
            "error": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "stream": "ext://sys.stdout",
            },
            "error": {
                "class": "logging.StreamHandler",
                "formatter": "error",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "futarchy.access": {
                "handlers": ["access"],
                "level": "INFO" if access_log else "WARNING",
                "propagate": False,
            },
            "futarchy.error": {"handlers": ["error"], "level": "ERROR", "propagate": False},
            "uvicorn": {"handlers": ["error"], "level": "WARNING", "propagate": False},
            "uvicorn.error": {"handlers": ["error"], "level": "WARNING", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }

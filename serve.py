"""Start the API: builds the app and runs uvicorn. No business logic here."""

from __future__ import annotations

import uvicorn

from inference.app import create_app
from inference.observability import configure_logging
from models.settings import get_settings


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()

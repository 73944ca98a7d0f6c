"""Start the API: builds the app and runs uvicorn. No business logic here."""

from __future__ import annotations

import uvicorn

from inference.app import create_app
from models.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()

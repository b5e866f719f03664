"""``python -m api``: serve the API with uvicorn on ``API_PORT``."""

from __future__ import annotations

import uvicorn

from api import create_app
from models.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(create_app(None, settings), host="0.0.0.0", port=settings.api_port)


if __name__ == "__main__":
    main()

"""``python -m api``: serve the API with uvicorn on ``API_PORT``."""

from __future__ import annotations

import uvicorn

from api import create_app
from client.logs import configure_logging
from models.settings import refuse_dev_secrets, settings_from_environment


def main() -> None:
    settings = settings_from_environment()
    refuse_dev_secrets(settings)
    configure_logging()
    # No access log: the product logs what it needs itself, with pseudonyms (CONTRACTS.md §1).
    uvicorn.run(
        create_app(None, settings),
        host="0.0.0.0",
        port=settings.api_port,
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()

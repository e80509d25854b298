"""The review REST API (FastAPI) served by ``dataquarantine serve``."""

from __future__ import annotations

from dataquarantine.extras import require_extra

require_extra("server", "the review API")

from dataquarantine.api.app import create_app
from dataquarantine.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]

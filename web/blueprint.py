"""A flask-smorest Blueprint whose validation failures are the API's 400 VALIDATION_ERROR."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint as SmorestBlueprint


class Blueprint(SmorestBlueprint):
    def arguments(self, schema: Any, *, error_status_code: int = 400, **kwargs: Any) -> Any:
        return super().arguments(schema, error_status_code=error_status_code, **kwargs)

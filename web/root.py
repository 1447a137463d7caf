"""`GET /`: the first URL `scripts/run` prints; it sends a person to the console (not part of the API)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, url_for

blp = Blueprint("root", __name__)


@blp.get("/")
def root() -> Any:
    return redirect(url_for("console.home"), code=302)

"""Fixtures of the hardening tests: the populated world on each backend."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hardening.world import World, build_world


@pytest.fixture
def world(ledger: Any, views: Any, flask_app: Any) -> World:
    return build_world(ledger, flask_app)

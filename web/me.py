"""Who am I: the role, id and subject of the bearer token, so a client can show what it may do."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from web.auth import current_actor
from web.blueprint import Blueprint

blp = Blueprint("me", __name__, url_prefix="/api/v1", description="令牌身份 The caller's identity")


class MeSchema(Schema):
    role = fields.String(metadata={"description": "approver, finance, operator, enterprise, provider, supervisor or auditor"})
    id = fields.String(metadata={"description": "the credential's label, recorded as the actor id on events"})
    subject = fields.String(allow_none=True, metadata={"description": "credit code an enterprise or provider token is bound to"})


@blp.get("/me")
@blp.response(200, MeSchema)
def me() -> Any:
    """The caller's role, actor id and subject (any valid token; 401 without one)."""
    actor = current_actor()
    return {"role": actor.role, "id": actor.id, "subject": actor.subject}

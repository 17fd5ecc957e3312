"""Who is logged in, as JSON."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from kefu.web.dependencies import CurrentShop, CurrentStaff
from kefu.web.routers.shops import ShopOut

router = APIRouter(prefix="/api", tags=["accounts"])


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    nickname: str
    role: str
    agent_id: str


class Me(BaseModel):
    staff: StaffOut
    shop: ShopOut


@router.get("/me", response_model=Me, responses={401: {"description": "Not logged in"}})
def read_me(staff: CurrentStaff, shop: CurrentShop) -> Me:
    """The logged-in staff member and the shop they work for."""
    return Me(staff=StaffOut.model_validate(staff), shop=ShopOut.model_validate(shop))

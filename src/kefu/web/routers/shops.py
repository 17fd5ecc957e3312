"""The shop a staff member works for, as JSON."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from kefu.accounts.access import access_shop
from kefu.web.dependencies import CurrentStaff, SessionDep

router = APIRouter(prefix="/api/shops", tags=["shops"])


class ShopOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    category: str
    timezone: str


@router.get("/{shop_id}", response_model=ShopOut, responses={404: {"description": "Not one of your shops"}})
def read_shop(shop_id: str, session: SessionDep, staff: CurrentStaff) -> ShopOut:
    """A shop, if it is the caller's own; any other id, existing or not, gives the same 404."""
    return ShopOut.model_validate(access_shop(session, staff, shop_id))

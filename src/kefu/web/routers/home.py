"""The landing page after login."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from kefu.web.dependencies import CurrentShop, CurrentStaff, OptionalStaff, PageDep

router = APIRouter(include_in_schema=False)


@router.get("/")
def root(staff: OptionalStaff) -> Response:
    return RedirectResponse("/home" if staff is not None else "/login", status_code=303)


@router.get("/home")
def home(page: PageDep, staff: CurrentStaff, shop: CurrentShop) -> Response:
    return page.render("home.html", shop=shop)

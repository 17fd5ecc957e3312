"""The workbench's buyer sidebar, reply and product search, follow-up tasks, and the reply library page.

- ``GET /desk/conversations/{id}/sidebar``: an HTML partial (htmx) with the buyer's profile,
  orders, earlier conversations, the reception steps, promotions, related items and tasks;
  its forms post back and get the sidebar again (``…/buyer/tags``, ``/notes``, ``/attributes``,
  ``…/follow-ups``).
- ``GET /desk/replies?q=&conversation_id=``: canned replies matching ``q``, filled from the
  conversation, with the prompts the agent still has to type (JSON).
- ``GET /desk/products?q=``: product cards from the shop's catalogue (JSON).
- ``GET /desk/tasks``: the agent's follow-ups due now (JSON, or a partial for htmx);
  ``POST /desk/tasks/{id}/complete``.
- ``GET/POST /desk/library``: supervisors and admins edit the shop's canned replies.

Everything a buyer or an agent typed is rendered as text by Jinja's autoescape; phone numbers
reach the templates only masked (kefu.crm.masking).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from kefu.accounts.access import access_shop
from kefu.crm.actions import do_set_buyer_notes, do_set_buyer_tags, do_update_buyer_attributes
from kefu.crm.profiles import ATTRIBUTES, ATTRIBUTES_BY_KEY, ProfileError, get_buyer_profile, split_tags
from kefu.desk.access import conversation_for_staff
from kefu.desk.canned_replies import SCENES, VARIABLES, CannedReplyError, TemplateError, render, search
from kefu.desk.followups import (
    FollowUpError,
    access_follow_up,
    do_add_follow_up,
    do_complete_follow_up,
    list_due_for_agent,
    list_follow_ups,
    refresh_follow_ups,
)
from kefu.desk.library import (
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    do_delete_reply,
    do_reset_library,
    do_save_reply,
    has_own_library,
    shop_library,
)
from kefu.desk.reception import (
    STEPS,
    current_promotions,
    product_under_discussion,
    related_products,
    reply_context,
    search_products,
    steps_for,
)
from kefu.store.models import Buyer, Conversation, FollowUp, Shop, Staff
from kefu.web.dependencies import CurrentStaff, Page, PageDep, RequireSupervisor, SessionDep
from kefu.web.i18n import translator

router = APIRouter(include_in_schema=False)

REPLIES_SHOWN = 20
DEFAULT_FOLLOW_UP_IN = timedelta(hours=24)

Text = Annotated[str, Form(max_length=4000)]
ShortText = Annotated[str, Form(max_length=200)]


def _is_htmx(request: Request) -> bool:
    return bool(request.headers.get("HX-Request"))


def _local(zone: ZoneInfo) -> Callable[[datetime | None, str], str]:
    def local(moment: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
        return moment.astimezone(zone).strftime(pattern) if moment is not None else "—"

    return local


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"¥{value:,.2f}"


def _error_text(language: str, error: Exception) -> str:
    """A refusal in the UI's words; the English detail of errors without a code."""
    t = translator(language)
    code = getattr(error, "code", None)
    if code is not None:
        return t(f"sidebar.error.{code}", **{k: str(v) for k, v in getattr(error, "values", {}).items()})
    return t("sidebar.error.refused", detail=str(error))


# --- the sidebar --------------------------------------------------------------------------


def _sidebar(
    page: Page,
    session: Session,
    staff: Staff,
    conversation: Conversation,
    *,
    error: str | None = None,
    saved: str | None = None,
) -> Response:
    shop = access_shop(session, staff)
    zone = ZoneInfo(shop.timezone)
    now = datetime.now(UTC)
    refresh_follow_ups(session, shop.id, now, buyer_id=conversation.buyer_id)
    profile = get_buyer_profile(session, shop.id, conversation.buyer_id, conversation=conversation)
    product = product_under_discussion(session, conversation)
    custom_keys = [key for key in profile.attributes if key not in ATTRIBUTES_BY_KEY]
    return page.render(
        "desk/sidebar.html",
        shop=shop,
        conversation=conversation,
        profile=profile,
        attributes=ATTRIBUTES,
        custom_keys=custom_keys,
        product=product,
        related=related_products(session, shop.id, product.id) if product is not None else [],
        promotions=current_promotions(shop, now),
        steps=STEPS,
        suggested=steps_for(session, conversation),
        scenes={scene.name: scene for scene in SCENES},
        tasks=list_follow_ups(session, shop.id, now, buyer_id=conversation.buyer_id, due_only=False),
        task_target="#buyer-sidebar",
        now=now,
        due_default=(now + DEFAULT_FOLLOW_UP_IN).astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        local=_local(zone),
        money=_money,
        error=error,
        saved=saved,
    )


def _after_edit(
    request: Request,
    page: Page,
    session: Session,
    staff: Staff,
    conversation: Conversation,
    *,
    error: Exception | None = None,
    saved: str | None = None,
) -> Response:
    """The sidebar again after a form: with the refusal shown, or the saved section named."""
    message = _error_text(page.language, error) if error is not None else None
    response = _sidebar(page, session, staff, conversation, error=message, saved=saved)
    if error is not None and not _is_htmx(request):
        # htmx swaps only 2xx answers, so it gets the refusal inside a 200; other clients a 422.
        response.status_code = 422
    return response


@router.get("/desk/conversations/{conversation_id}/sidebar")
def sidebar(conversation_id: str, page: PageDep, session: SessionDep, staff: CurrentStaff) -> Response:
    """The buyer's sidebar for a conversation of the staff member's shop (else 404)."""
    conversation = conversation_for_staff(session, staff, conversation_id)
    return _sidebar(page, session, staff, conversation)


@router.post("/desk/conversations/{conversation_id}/buyer/tags")
def set_tags(
    conversation_id: str,
    request: Request,
    page: PageDep,
    session: SessionDep,
    staff: CurrentStaff,
    tags: Text = "",
) -> Response:
    conversation = conversation_for_staff(session, staff, conversation_id)
    try:
        do_set_buyer_tags(session, staff, conversation, split_tags(tags))
    except ProfileError as refused:
        return _after_edit(request, page, session, staff, conversation, error=refused)
    return _after_edit(request, page, session, staff, conversation, saved="tags")


@router.post("/desk/conversations/{conversation_id}/buyer/notes")
def set_notes(
    conversation_id: str,
    request: Request,
    page: PageDep,
    session: SessionDep,
    staff: CurrentStaff,
    notes: Text = "",
) -> Response:
    conversation = conversation_for_staff(session, staff, conversation_id)
    try:
        do_set_buyer_notes(session, staff, conversation, notes)
    except ProfileError as refused:
        return _after_edit(request, page, session, staff, conversation, error=refused)
    return _after_edit(request, page, session, staff, conversation, saved="notes")


@router.post("/desk/conversations/{conversation_id}/buyer/attributes")
def set_attributes(
    conversation_id: str,
    request: Request,
    page: PageDep,
    session: SessionDep,
    staff: CurrentStaff,
    key: Annotated[list[str], Form(max_length=100)],
    value: Annotated[list[str], Form(max_length=200)],
) -> Response:
    """Every row of the form: a key with a value sets it, with an empty value removes it."""
    conversation = conversation_for_staff(session, staff, conversation_id)
    changes: dict[str, str | None] = {}
    for name, typed in zip(key, value, strict=False):
        if name.strip():
            changes[name.strip()] = typed or None
        elif typed.strip():
            # A value typed in the blank row without a name: say so rather than drop it.
            refused = ProfileError("attribute_name", "the new attribute has no name", name="", limit=20)
            return _after_edit(request, page, session, staff, conversation, error=refused)
    try:
        do_update_buyer_attributes(session, staff, conversation, changes)
    except ProfileError as refused:
        return _after_edit(request, page, session, staff, conversation, error=refused)
    return _after_edit(request, page, session, staff, conversation, saved="attributes")


@router.post("/desk/conversations/{conversation_id}/follow-ups")
def add_follow_up(
    conversation_id: str,
    request: Request,
    page: PageDep,
    session: SessionDep,
    staff: CurrentStaff,
    due: ShortText = "",
    note: Text = "",
) -> Response:
    """A task of the agent's own; `due` is a local date and time in the shop's zone (datetime-local)."""
    conversation = conversation_for_staff(session, staff, conversation_id)
    shop = access_shop(session, staff)
    try:
        due_at = datetime.fromisoformat(due).replace(tzinfo=ZoneInfo(shop.timezone))
    except ValueError:
        refused = FollowUpError("due_unreadable", "the due time is not a date and time")
        return _after_edit(request, page, session, staff, conversation, error=refused)
    try:
        do_add_follow_up(session, staff, conversation, due_at, note)
    except FollowUpError as refused:
        return _after_edit(request, page, session, staff, conversation, error=refused)
    return _after_edit(request, page, session, staff, conversation, saved="tasks")


# --- canned replies and product cards for the composer ------------------------------------


@router.get("/desk/replies")
def replies(
    session: SessionDep,
    staff: CurrentStaff,
    q: Annotated[str, Query(max_length=50)] = "",
    conversation_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """The shop's canned replies matching `q`, filled in for the conversation (JSON)."""
    shop = access_shop(session, staff)
    if conversation_id:
        context = reply_context(session, conversation_for_staff(session, staff, conversation_id))
    else:
        context = {"shop": shop.name}
    found = search(shop_library(session, shop.id), q)[:REPLIES_SHOWN]
    rendered = []
    for reply in found:
        filled = render(reply, context)
        rendered.append(
            {
                "key": reply.key,
                "scene": reply.scene,
                "title": reply.title,
                "text": filled.text,
                "complete": filled.complete,
                "prompts": [{"label": p.label, "variable": p.variable} for p in filled.prompts],
            }
        )
    return {"replies": rendered}


@router.get("/desk/products")
def products(
    session: SessionDep, staff: CurrentStaff, q: Annotated[str, Query(max_length=100)] = ""
) -> dict[str, Any]:
    """Product cards of the shop's catalogue whose title holds every word of `q` (JSON)."""
    shop = access_shop(session, staff)
    return {"products": [card.as_json() for card in search_products(session, shop.id, q)]}


# --- follow-up tasks ----------------------------------------------------------------------


def _task_json(task: FollowUp, names: dict[str, str | None], now: datetime) -> dict[str, Any]:
    return {
        "id": task.id,
        "kind": task.kind,
        "buyer_id": task.buyer_id,
        "buyer_nickname": names.get(task.buyer_id),
        "conversation_id": task.conversation_id,
        "order_id": task.order_id,
        "due_at": task.due_at.isoformat(),
        "overdue": task.due_at < now,
        "note": task.note,
    }


def _buyer_names(session: Session, tasks: list[FollowUp]) -> dict[str, str | None]:
    ids = {task.buyer_id for task in tasks}
    return {
        buyer_id: (buyer.nickname if (buyer := session.get(Buyer, buyer_id)) else None) for buyer_id in ids
    }


def _task_list(page: Page, session: Session, staff: Staff, shop: Shop) -> Response:
    now = datetime.now(UTC)
    tasks = list_due_for_agent(session, staff, now)
    return page.render(
        "desk/_sidebar_tasks.html",
        tasks=tasks,
        names=_buyer_names(session, tasks),
        task_target="#follow-up-list",
        conversation=None,
        now=now,
        local=_local(ZoneInfo(shop.timezone)),
    )


@router.get("/desk/tasks")
def tasks(request: Request, page: PageDep, session: SessionDep, staff: CurrentStaff) -> Response:
    """The staff member's follow-ups due now: JSON, or the list as HTML for htmx."""
    shop = access_shop(session, staff)
    if _is_htmx(request):
        return _task_list(page, session, staff, shop)
    now = datetime.now(UTC)
    due = list_due_for_agent(session, staff, now)
    names = _buyer_names(session, due)
    return JSONResponse({"tasks": [_task_json(task, names, now) for task in due]})


@router.post("/desk/tasks/{task_id}/complete")
def complete_task(
    task_id: int,
    request: Request,
    page: PageDep,
    session: SessionDep,
    staff: CurrentStaff,
    note: Text = "",
    conversation_id: ShortText = "",
) -> Response:
    """Mark a task done; answers with the sidebar (from the sidebar), the list (htmx) or JSON."""
    task = access_follow_up(session, staff, task_id)
    conversation = conversation_for_staff(session, staff, conversation_id) if conversation_id else None
    try:
        do_complete_follow_up(session, staff, task, note)
    except FollowUpError as refused:
        if conversation is not None:
            return _after_edit(request, page, session, staff, conversation, error=refused)
        return JSONResponse({"detail": str(refused), "code": refused.code}, status_code=422)
    if conversation is not None:
        return _after_edit(request, page, session, staff, conversation, saved="tasks")
    if _is_htmx(request):
        return _task_list(page, session, staff, access_shop(session, staff))
    return JSONResponse({"id": task.id, "done_at": task.done_at.isoformat() if task.done_at else None})


# --- the library page (supervisors and admins) --------------------------------------------


def _library_page(
    page: Page,
    session: Session,
    staff: Staff,
    *,
    error: str | None = None,
    draft: dict[str, str] | None = None,
    saved: str | None = None,
    status_code: int = 200,
) -> Response:
    shop = access_shop(session, staff)
    library = shop_library(session, shop.id)
    return page.render(
        "desk/sidebar_library.html",
        status_code=status_code,
        shop=shop,
        own=has_own_library(session, shop.id),
        by_scene=[(scene, [r for r in library if r.scene == scene.name]) for scene in SCENES],
        scenes=SCENES,
        variables=VARIABLES,
        error=error,
        draft=draft,
        saved=saved,
        max_title=MAX_TITLE_CHARS,
        max_text=MAX_TEXT_CHARS,
    )


def _library_refusal(language: str, error: CannedReplyError) -> str:
    t = translator(language)
    if isinstance(error, TemplateError):
        return t("sidebar.library.template_error", key=error.key, position=str(error.position + 1))
    return t("sidebar.error.refused", detail=str(error))


@router.get("/desk/library")
def library_page(
    page: PageDep, session: SessionDep, staff: RequireSupervisor, saved: str | None = None
) -> Response:
    return _library_page(page, session, staff, saved=saved)


@router.post("/desk/library")
def save_reply(
    page: PageDep,
    session: SessionDep,
    staff: RequireSupervisor,
    key: ShortText = "",
    scene: ShortText = "",
    title: ShortText = "",
    text: Text = "",
    original_key: ShortText = "",
) -> Response:
    """Add a reply (no `original_key`) or change one; a refusal shows the form again with what was typed."""
    try:
        reply = do_save_reply(
            session, staff, key=key, scene=scene, title=title, text=text, original_key=original_key or None
        )
    except CannedReplyError as refused:
        draft = {"key": key, "scene": scene, "title": title, "text": text, "original_key": original_key}
        message = _library_refusal(page.language, refused)
        return _library_page(page, session, staff, error=message, draft=draft, status_code=422)
    return RedirectResponse(f"/desk/library?saved={reply.key}", status_code=303)


@router.post("/desk/library/delete")
def delete_reply(
    page: PageDep, session: SessionDep, staff: RequireSupervisor, key: ShortText = ""
) -> Response:
    try:
        do_delete_reply(session, staff, key)
    except CannedReplyError as refused:
        message = _library_refusal(page.language, refused)
        return _library_page(page, session, staff, error=message, status_code=422)
    return RedirectResponse("/desk/library", status_code=303)


@router.post("/desk/library/reset")
def reset_library(session: SessionDep, staff: RequireSupervisor) -> Response:
    do_reset_library(session, staff)
    return RedirectResponse("/desk/library", status_code=303)

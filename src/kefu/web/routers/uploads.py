"""Pictures in chats: a buyer or a connector uploads one, the conversation's people see it.

- `POST /chat/{shop_id}/uploads`: a buyer (buyer token) sends a picture, optionally naming
  their conversation. The body is the image itself (`Content-Type: image/…`) or a multipart
  form with a `file` field; either way the type is judged from the bytes (kefu.desk.uploads).
- `POST /api/v1/uploads`: the same for a connector (API key), e.g. a picture a buyer sent on
  the marketplace.
- `GET /uploads/{upload_id}`: the picture, to the buyer of its conversation (buyer token in
  `Authorization` or, for an `<img>` tag which cannot send headers, `?token=`), to the staff
  of its shop (login cookie) or to the shop's connector (API key). Anyone else, and any id
  that does not exist, gets the same 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from kefu.accounts.access import NotFound
from kefu.desk import uploads
from kefu.desk.access import conversation_for_buyer
from kefu.store.engine import session_scope
from kefu.store.models import Conversation, Upload
from kefu.web.bearer import BuyerDep, ConnectorDep, buyer_for_token, connector_for_key, is_api_key
from kefu.web.dependencies import get_optional_staff

router = APIRouter(tags=["uploads"])

# Room for a multipart envelope (boundaries, part headers, a conversation_id field) around a
# picture of the largest size taken.
MULTIPART_ALLOWANCE = 16 * 1024
# Ids are immutable: a picture never changes, so browsers may keep it (privately: it is personal).
CACHE_CONTROL = "private, max-age=86400, immutable"
# Opened on its own in a tab, the picture still cannot run anything.
UPLOAD_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
_STATUS_BY_CODE = {"too_large": 413, "unsupported_type": 415}


class UploadOut(BaseModel):
    upload_id: str
    content_type: str
    size: int
    url: str


def _refused(status_code: int, code: str, detail: str) -> HTTPException:
    return HTTPException(status_code=status_code, detail={"code": code, "message": detail})


async def _read_picture(request: Request) -> tuple[bytes, str | None]:
    """The uploaded bytes (at most one byte over the limit) and a conversation_id form field, if any."""
    limit = uploads.MAX_UPLOAD_BYTES
    declared = request.headers.get("content-length")
    multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
    allowance = MULTIPART_ALLOWANCE if multipart else 0
    if declared is not None and declared.isdigit() and int(declared) > limit + allowance:
        raise _refused(413, "too_large", f"{int(declared):,} bytes; at most {limit:,} ({limit // 2**20} MB)")
    if not multipart:
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > limit:  # stop reading: the sender may be streaming without end
                break
        return bytes(data), None
    if declared is None:
        # A multipart body is spooled whole before it can be read: its size must be known first.
        raise _refused(411, "length_required", "a multipart upload needs a Content-Length")
    form = await request.form(max_files=1, max_fields=4)
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise _refused(422, "no_file", "a multipart upload needs the picture in a field named 'file'")
    conversation_id = form.get("conversation_id")
    return await file.read(limit + 1), conversation_id if isinstance(conversation_id, str) else None


def _answer(upload: Upload) -> UploadOut:
    return UploadOut(
        upload_id=upload.id, content_type=upload.content_type, size=upload.size, url=f"/uploads/{upload.id}"
    )


def _save(request: Request, *, shop_id: str, conversation_id: str | None, by: str, data: bytes) -> UploadOut:
    settings = request.app.state.settings
    with session_scope(request.app.state.write_sessionmaker) as session:
        upload = uploads.save_upload(
            session,
            settings.data_dir,
            shop_id=shop_id,
            conversation_id=conversation_id,
            uploaded_by=by,
            data=data,
            now=datetime.now(UTC),
        )
        return _answer(upload)


async def _store(request: Request, shop_id: str, by: str, conversation_check: Any) -> UploadOut:
    data, form_conversation = await _read_picture(request)
    conversation_id = request.query_params.get("conversation_id") or form_conversation
    try:
        uploads.check_image(data)  # refused before any database work
    except uploads.UploadRefused as refused:
        raise _refused(_STATUS_BY_CODE.get(refused.code, 422), refused.code, str(refused)) from None

    def save() -> UploadOut:
        if conversation_id is not None:
            conversation_check(conversation_id)
        return _save(request, shop_id=shop_id, conversation_id=conversation_id, by=by, data=data)

    return await run_in_threadpool(save)


UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid credential"},
    404: {"description": "The conversation named is not the caller's"},
    411: {"description": "A multipart body without Content-Length"},
    413: {"description": "Larger than 5 MB"},
    415: {"description": "Not a JPEG, PNG, GIF or WebP image (judged by its bytes)"},
    422: {"description": "Damaged, empty, or too many pixels"},
}
_BODY_DOC = {
    "requestBody": {
        "description": "The picture itself, or a multipart form with `file` (and `conversation_id`).",
        "content": {
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "conversation_id": {"type": "string"},
                    },
                    "required": ["file"],
                }
            },
        },
    }
}


@router.post(
    "/chat/{shop_id}/uploads",
    status_code=201,
    response_model=UploadOut,
    responses=UPLOAD_RESPONSES,
    openapi_extra=_BODY_DOC,
)
async def buyer_upload(
    request: Request,
    shop_id: str,
    buyer: BuyerDep,
    conversation_id: Annotated[str | None, Query(max_length=64)] = None,
) -> UploadOut:
    """A buyer sends a picture (JPEG, PNG, GIF or WebP, at most 5 MB); the answer's `upload_id`
    goes in an `image` message's payload."""

    def check(conversation_id: str) -> None:
        with session_scope(request.app.state.sessionmaker) as session:
            conversation_for_buyer(session, shop_id, buyer.buyer_id, conversation_id)

    return await _store(request, shop_id, f"buyer:{buyer.buyer_id}", check)


@router.post(
    "/api/v1/uploads",
    status_code=201,
    response_model=UploadOut,
    responses=UPLOAD_RESPONSES,
    openapi_extra=_BODY_DOC,
    tags=["api"],
)
async def connector_upload(
    request: Request,
    connector: ConnectorDep,
    conversation_id: Annotated[str | None, Query(max_length=64)] = None,
) -> UploadOut:
    """A connector stores a picture (for example one a buyer sent on the marketplace) to send in an
    `image` message."""

    def check(conversation_id: str) -> None:
        with session_scope(request.app.state.sessionmaker) as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None or conversation.shop_id != connector.shop_id:
                raise NotFound("conversation")

    return await _store(request, connector.shop_id, f"api:{connector.name}"[:80], check)


def _may_see(request: Request, upload_id: str, token: str | None) -> Upload:
    """The upload if the request's credential reaches it; NotFound (the same for all) otherwise."""
    with session_scope(request.app.state.sessionmaker) as session:
        upload = session.get(Upload, upload_id) if len(upload_id) <= 40 else None
        if upload is None:
            raise NotFound("upload")
        shop_id = upload.shop_id
        if token is None:
            # The same check as every staff page (a session from before a password change is ended).
            staff = get_optional_staff(request, session, request.app.state.session_codec)
            if staff is None:
                raise NotFound("upload")
            return uploads.access_upload_for_staff(session, upload_id, staff)
    if is_api_key(token):
        connector = connector_for_key(request, token)
        if connector is None or connector.shop_id != shop_id:
            raise NotFound("upload")
        return upload
    try:
        buyer = buyer_for_token(request, shop_id, token)
    except HTTPException:
        raise NotFound("upload") from None
    with session_scope(request.app.state.sessionmaker) as session:
        return uploads.access_upload_for_buyer(session, upload_id, shop_id, buyer.buyer_id)


@router.get(
    "/uploads/{upload_id}",
    response_class=FileResponse,
    responses={200: {"content": {"image/*": {}}}, 404: {"description": "Missing or not yours"}},
)
async def read_upload(
    request: Request,
    upload_id: str,
    token: Annotated[str | None, Query(description="A buyer token, for <img> tags")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> FileResponse:
    """The picture, with its stored type, to those who may see it."""
    if authorization and authorization.startswith("Bearer "):
        token = authorization.removeprefix("Bearer ").strip()
    upload = await run_in_threadpool(_may_see, request, upload_id, token)
    path = uploads.upload_path(request.app.state.settings.data_dir, upload.id)
    if not path.is_file():
        raise NotFound("upload")
    return FileResponse(
        path,
        media_type=upload.content_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline",
            "Cache-Control": CACHE_CONTROL,
            "Content-Security-Policy": UPLOAD_CSP,
        },
    )

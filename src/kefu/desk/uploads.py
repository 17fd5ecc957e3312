"""Images buyers and agents send: checked by their content, stored in the data folder, shown only
to the conversation's buyer and the shop's staff.

Only JPEG, PNG, GIF and WebP are taken, recognised by their first bytes and by reading the
picture's dimensions from the header, never by the name or the type the client claims. So an
HTML page or an SVG (which can carry script) renamed `cat.png` is refused, and what is served
later goes out with the type found here and `nosniff`. A picture's declared size is capped too:
a few megabytes of PNG can claim billions of pixels and stall whoever opens it.

No image library is needed for this: the headers of the four formats are simple, and kefu never
re-encodes a picture.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from kefu.accounts.access import NotFound
from kefu.store.models import Conversation, Staff, Upload

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_SIDE = 20_000
MAX_PIXELS = 50_000_000
CONTENT_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,40}")


class UploadRefused(ValueError):
    """A file kefu will not store; `code` is short and stable, the message says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"upload refused: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    width: int
    height: int


class _Damaged(Exception):
    """The header starts like an image of this type but does not read as one."""


def _jpeg_size(data: bytes) -> tuple[int, int]:
    # Walk the marker segments up to the first frame header (SOFn), which holds the size.
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise _Damaged("marker expected")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header came first
            raise _Damaged("no frame header before the image data")
        (length,) = struct.unpack_from(">H", data, i + 2)
        if length < 2:
            raise _Damaged("segment length")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(data):
                break
            height, width = struct.unpack_from(">HH", data, i + 5)
            return width, height
        i += 2 + length
    raise _Damaged("ends before the frame header")


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR" or struct.unpack_from(">I", data, 8)[0] != 13:
        raise _Damaged("IHDR chunk expected first")
    return struct.unpack_from(">II", data, 16)


def _gif_size(data: bytes) -> tuple[int, int]:
    if len(data) < 10:
        raise _Damaged("logical screen descriptor missing")
    return struct.unpack_from("<HH", data, 6)


def _webp_size(data: bytes) -> tuple[int, int]:
    if len(data) < 30:
        raise _Damaged("too short")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    if riff_size + 8 > len(data):
        raise _Damaged("shorter than its RIFF header says")
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: a key frame's start code, then 14-bit sizes
        if data[23:26] != b"\x9d\x01\x2a":
            raise _Damaged("VP8 start code")
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":  # lossless: a signature byte, then 14-bit sizes minus one
        if data[20] != 0x2F:
            raise _Damaged("VP8L signature")
        (bits,) = struct.unpack_from("<I", data, 21)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit sizes minus one
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    raise _Damaged(f"unknown first chunk {chunk!r}")


# (content type, how the file starts, how its size is read)
_FORMATS = (
    ("image/jpeg", (b"\xff\xd8\xff",), _jpeg_size),
    ("image/png", (b"\x89PNG\r\n\x1a\n",), _png_size),
    ("image/gif", (b"GIF87a", b"GIF89a"), _gif_size),
)


def _sniff(data: bytes) -> tuple[str, tuple[int, int]]:
    for content_type, magics, size in _FORMATS:
        if data.startswith(magics):
            return content_type, size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", _webp_size(data)
    raise UploadRefused("unsupported_type", "not a JPEG, PNG, GIF or WebP image (judged by its content)")


def check_image(data: bytes) -> ImageInfo:
    """What the image in `data` is, or UploadRefused saying why it is not taken."""
    if not data:
        raise UploadRefused("empty", "the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(
            "too_large", f"{len(data):,} bytes; at most {MAX_UPLOAD_BYTES:,} ({MAX_UPLOAD_BYTES // 2**20} MB)"
        )
    try:
        content_type, (width, height) = _sniff(data)
    except (_Damaged, struct.error, IndexError) as error:
        kind = _kind_from_magic(data)
        raise UploadRefused(
            "damaged", f"starts like a {kind} but its header does not read ({error})"
        ) from None
    if width < 1 or height < 1:
        raise UploadRefused("damaged", f"the image claims a size of {width}×{height}")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise UploadRefused(
            "too_many_pixels",
            f"{width}×{height} pixels; at most {MAX_SIDE} a side and {MAX_PIXELS:,} in all",
        )
    return ImageInfo(content_type, width, height)


def _kind_from_magic(data: bytes) -> str:
    for content_type, magics, _ in _FORMATS:
        if data.startswith(magics):
            return content_type
    return "image/webp"


def upload_path(data_dir: Path, upload_id: str) -> Path:
    """Where an upload's bytes live: uploads/<first two characters>/<id> (keeps folders small)."""
    if not _ID_PATTERN.fullmatch(upload_id):
        raise ValueError(f"upload id {upload_id!r} is not one kefu made")
    return data_dir / "uploads" / upload_id[:2] / upload_id


def save_upload(
    session: Session,
    data_dir: Path,
    *,
    shop_id: str,
    conversation_id: str | None,
    uploaded_by: str,
    data: bytes,
    now: datetime,
) -> Upload:
    """Check `data` and store it; the row joins the caller's transaction.

    `uploaded_by` is "buyer:<buyer id>", "agent:<agent id>" or "api:<key name>". The file is
    written (atomically) before the row, so a row never names a missing file; a rolled-back
    transaction can leave an unnamed file behind, which is harmless.
    """
    info = check_image(data)
    upload_id = secrets.token_urlsafe(24)
    path = upload_path(data_dir, upload_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)
    upload = Upload(
        id=upload_id,
        shop_id=shop_id,
        conversation_id=conversation_id,
        uploaded_by=uploaded_by,
        content_type=info.content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        created_at=now,
    )
    session.add(upload)
    session.flush()
    return upload


def _get(session: Session, upload_id: str) -> Upload | None:
    return session.get(Upload, upload_id) if _ID_PATTERN.fullmatch(upload_id) else None


def access_upload_for_buyer(session: Session, upload_id: str, shop_id: str, buyer_id: str) -> Upload:
    """An upload the buyer sent, or one in a conversation of theirs at `shop_id`; else NotFound."""
    upload = _get(session, upload_id)
    if upload is None or upload.shop_id != shop_id:
        raise NotFound("upload")
    if upload.uploaded_by == f"buyer:{buyer_id}":
        return upload
    if upload.conversation_id is not None:
        conversation = session.get(Conversation, upload.conversation_id)
        if conversation is not None and conversation.shop_id == shop_id and conversation.buyer_id == buyer_id:
            return upload
    raise NotFound("upload")


def access_upload_for_staff(session: Session, upload_id: str, staff: Staff) -> Upload:
    """An upload of the staff member's shop; another shop's is NotFound like a missing one."""
    return access_upload_for_shop(session, upload_id, staff.shop_id)


def access_upload_for_shop(session: Session, upload_id: str, shop_id: str) -> Upload:
    """An upload of `shop_id` (a connector's API key speaks for the whole shop)."""
    upload = _get(session, upload_id)
    if upload is None or upload.shop_id != shop_id:
        raise NotFound("upload")
    return upload

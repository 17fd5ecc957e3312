"""Uploads: only real JPEG, PNG, GIF and WebP pictures are taken, judged by their bytes, and only
the conversation's buyer and the shop's staff reach them."""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kefu.accounts.access import NotFound
from kefu.desk.uploads import (
    MAX_UPLOAD_BYTES,
    UploadRefused,
    access_upload_for_buyer,
    access_upload_for_staff,
    check_image,
    save_upload,
    upload_path,
)
from kefu.store.engine import make_sessionmaker, session_scope
from kefu.store.models import Conversation, Shop, Staff

NOW = datetime(2026, 5, 20, 9, 30, tzinfo=UTC)

# 3×2 pictures made with libjpeg-turbo's cjpeg and libwebp's cwebp (baseline and progressive JPEG;
# lossy, lossless and extended WebP, the last with an alpha channel).
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABsSFBcUERsXFhceHBsgKEIrKCUlKFE6PTBCYFVlZF9VXVtqeJmBanGQc1tdhbWGkJ6j"
    "q62rZ4C8ybqmx5moq6T/2wBDARweHigjKE4rK06kbl1upKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSk"
    "pKSkpKSkpKT/wAARCAACAAMDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAL/xAAZEAACAwEAAAAAAAAAAAAAAAAAAQID"
    "BFH/xAAVAQEBAAAAAAAAAAAAAAAAAAAEBf/EABoRAAICAwAAAAAAAAAAAAAAAAABAgMyM3H/2gAMAwEAAhEDEQA/AI211rXYlCKS"
    "fAAVKdceIXDFH//Z"
)
PROGRESSIVE_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABsSFBcUERsXFhceHBsgKEIrKCUlKFE6PTBCYFVlZF9VXVtqeJmBanGQc1tdhbWGkJ6j"
    "q62rZ4C8ybqmx5moq6T/2wBDARweHigjKE4rK06kbl1upKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSkpKSk"
    "pKSkpKSkpKT/wgARCAACAAMDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAL/xAAVAQEBAAAAAAAAAAAAAAAAAAADBP/a"
    "AAwDAQACEAMQAAABkVL/AP/EABYQAQEBAAAAAAAAAAAAAAAAAAECEv/aAAgBAQABBQKw1//EABYRAAMAAAAAAAAAAAAAAAAAAAAB"
    "Mf/aAAgBAwEBPwFQ/8QAFxEAAwEAAAAAAAAAAAAAAAAAAAECMv/aAAgBAgEBPwGMo//EABUQAQEAAAAAAAAAAAAAAAAAAAAB/9oA"
    "CAEBAAY/Aq//xAAWEAADAAAAAAAAAAAAAAAAAAAAATH/2gAIAQEAAT8hgkf/2gAMAwEAAgADAAAAEPf/xAAVEQEBAAAAAAAAAAAA"
    "AAAAAAAAMf/aAAgBAwEBPxCT/8QAFhEAAwAAAAAAAAAAAAAAAAAAAAGh/9oACAECAQE/EIEf/8QAFhABAQEAAAAAAAAAAAAAAAAA"
    "AQBR/9oACAEBAAE/ECEEDl//2Q=="
)
WEBP_LOSSY = base64.b64decode(
    "UklGRl4AAABXRUJQVlA4IFIAAACwAgCdASoDAAIAAgA0JagCdLoAyQDJAP0ABbtZeYgAzj+8PXhX96Il2oewem2/80X/0YFO/H/9"
    "Sz+HP9jAp34/7935Mp2mUz0ODewKZTOSQAAA"
)
WEBP_LOSSLESS = base64.b64decode(
    "UklGRkIAAABXRUJQVlA4TDYAAAAvAkAAAC9AmG2010iO/hBHQiZtE5WVPUG7iARISMxwliOdaJr/yHtEW9BcgUCAMlV4KKL/8UU="
)
WEBP_EXTENDED = base64.b64decode(
    "UklGRoQAAABXRUJQVlA4WAoAAAAQAAAAAgAAAQAAQUxQSAcAAAAAgP8ACv9aAFZQOCBWAAAAsAMAnQEqAwACAAIANCWoAnS6AfgB"
    "+IFKAqgD+AZQB+gALdmfyQAA/guUYPa94QRSXLG2+2zP/nv10TzBkwd5xT/35P/oefhFxa3nzS/hFxa3/rYAAAA="
)
# The smallest GIF: one transparent pixel.
GIF = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")


def png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG (grey pixels), built with zlib: no image library needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "content_type", "size"),
    [
        (JPEG, "image/jpeg", (3, 2)),
        (PROGRESSIVE_JPEG, "image/jpeg", (3, 2)),
        (png(), "image/png", (3, 2)),
        (GIF, "image/gif", (1, 1)),
        (WEBP_LOSSY, "image/webp", (3, 2)),
        (WEBP_LOSSLESS, "image/webp", (3, 2)),
        (WEBP_EXTENDED, "image/webp", (3, 2)),
    ],
    ids=["jpeg", "progressive-jpeg", "png", "gif", "webp-lossy", "webp-lossless", "webp-extended"],
)
def test_each_taken_format_is_recognised_with_its_size(data, content_type, size):
    info = check_image(data)

    assert (info.content_type, (info.width, info.height)) == (content_type, size)


@pytest.mark.parametrize(
    ("data", "code", "reason"),
    [
        (b"", "empty", "empty"),
        (b"<html><script>alert(1)</script></html>", "unsupported_type", "not a JPEG, PNG, GIF or WebP"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            "unsupported_type",
            "by its content",
        ),
        (b"%PDF-1.7\n", "unsupported_type", "not a JPEG"),
        (b"BM" + b"\x00" * 60, "unsupported_type", "not a JPEG"),  # BMP: a picture, but not one we take
        (png()[:20], "damaged", "starts like a image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 7 + b"\xff\xd9", "damaged", "image/jpeg"),
        (WEBP_LOSSY[:40], "damaged", "shorter than its RIFF header"),
        (b"GIF89a\x00\x00\x00\x00" + GIF[10:], "damaged", "0×0"),
        (png(30_000, 1)[:33], "too_many_pixels", "30000×1 pixels"),
        (
            png(10_000, 10_000)[:33],
            "too_many_pixels",
            "10000×10000 pixels; at most 20000 a side and 50,000,000",
        ),
    ],
    ids=[
        "empty",
        "html",
        "svg",
        "pdf",
        "bmp",
        "png-cut",
        "jpeg-no-frame",
        "webp-cut",
        "gif-0x0",
        "wide",
        "huge",
    ],
)
def test_anything_else_is_refused_naming_the_reason(data, code, reason):
    with pytest.raises(UploadRefused, match=reason) as refused:
        check_image(data)

    assert refused.value.code == code


def test_the_size_limit_is_five_megabytes_exactly():
    picture = png()
    at_limit = picture + b"\x00" * (MAX_UPLOAD_BYTES - len(picture))  # trailing bytes after IEND

    assert MAX_UPLOAD_BYTES == 5 * 1024 * 1024
    assert check_image(at_limit).content_type == "image/png"
    with pytest.raises(UploadRefused, match=r"5,242,881 bytes; at most 5,242,880 \(5 MB\)") as refused:
        check_image(at_limit + b"\x00")
    assert refused.value.code == "too_large"


def test_an_html_page_named_like_a_picture_is_still_html():
    # What the client calls a file plays no part: only the bytes are read.
    with pytest.raises(UploadRefused, match="not a JPEG"):
        check_image(b"<!doctype html><title>cat.png</title>")


def test_an_upload_path_accepts_only_ids_kefu_made(tmp_path):
    assert (
        upload_path(tmp_path, "AbCdEfGhIjKlMnOpQrStUvWx") == tmp_path / "uploads/Ab/AbCdEfGhIjKlMnOpQrStUvWx"
    )
    for bad in ("../../etc/passwd", "short", "a/b" * 10, "x" * 41):
        with pytest.raises(ValueError, match="is not one kefu made"):
            upload_path(tmp_path, bad)


# --- stored and reached through the store ---------------------------------------------------


@pytest.fixture
def store(engine: Engine) -> Engine:
    with session_scope(make_sessionmaker(engine)) as session:
        session.add_all([Shop(id="yiyi", name="悦衣坊旗舰店"), Shop(id="shuma", name="数码港专营店")])
        session.flush()
        session.add_all(
            [
                Conversation(id="c-wang", shop_id="yiyi", buyer_id="wang", status="open"),
                Conversation(id="c-li", shop_id="yiyi", buyer_id="li", status="open"),
                Staff(shop_id="yiyi", agent_id="yiyi_a01", username="xiaomei", nickname="小美", role="agent"),
                Staff(
                    shop_id="shuma", agent_id="shuma_a01", username="dashan", nickname="大山", role="agent"
                ),
            ]
        )
    return engine


def save(engine: Engine, data_dir: Path, data: bytes, *, by: str, conversation_id: str | None) -> str:
    with session_scope(make_sessionmaker(engine)) as session:
        upload = save_upload(
            session,
            data_dir,
            shop_id="yiyi",
            conversation_id=conversation_id,
            uploaded_by=by,
            data=data,
            now=NOW,
        )
        return upload.id


def test_a_saved_upload_keeps_its_bytes_type_and_digest(store, tmp_path):
    upload_id = save(store, tmp_path, JPEG, by="buyer:wang", conversation_id="c-wang")

    with session_scope(make_sessionmaker(store)) as session:
        upload = access_upload_for_buyer(session, upload_id, "yiyi", "wang")
        assert (upload.content_type, upload.size, upload.created_at) == ("image/jpeg", len(JPEG), NOW)
        assert upload.sha256 == hashlib.sha256(JPEG).hexdigest()
    path = tmp_path / "uploads" / upload_id[:2] / upload_id
    assert path.read_bytes() == JPEG
    assert not list(path.parent.glob("*.part"))


def test_two_uploads_of_the_same_picture_get_different_random_ids(store, tmp_path):
    first = save(store, tmp_path, GIF, by="buyer:wang", conversation_id=None)
    second = save(store, tmp_path, GIF, by="buyer:wang", conversation_id=None)

    assert first != second
    assert len(first) >= 32


def test_a_refused_picture_leaves_neither_file_nor_row(store, tmp_path):
    with pytest.raises(UploadRefused):
        save(store, tmp_path, b"<svg/>", by="buyer:wang", conversation_id=None)

    assert not (tmp_path / "uploads").exists()


def test_the_buyer_of_the_conversation_and_the_uploader_reach_it_nobody_else(store, tmp_path):
    in_conversation = save(store, tmp_path, png(), by="agent:yiyi_a01", conversation_id="c-wang")
    unattached = save(store, tmp_path, png(), by="buyer:wang", conversation_id=None)

    with session_scope(make_sessionmaker(store)) as session:
        assert access_upload_for_buyer(session, in_conversation, "yiyi", "wang").id == in_conversation
        assert access_upload_for_buyer(session, unattached, "yiyi", "wang").id == unattached
        for upload_id, shop_id, buyer_id in [
            (in_conversation, "yiyi", "li"),  # another buyer of the same shop
            (unattached, "yiyi", "li"),
            (in_conversation, "shuma", "wang"),  # the same buyer id at another shop
            ("NoSuchUploadIdAtAll1234", "yiyi", "wang"),
            ("../../kefu.db", "yiyi", "wang"),
        ]:
            with pytest.raises(NotFound):
                access_upload_for_buyer(session, upload_id, shop_id, buyer_id)


def test_staff_reach_their_own_shops_uploads_only(store, tmp_path):
    upload_id = save(store, tmp_path, png(), by="buyer:wang", conversation_id="c-wang")

    with session_scope(make_sessionmaker(store)) as session:
        own = session.query(Staff).filter_by(username="xiaomei").one()
        other = session.query(Staff).filter_by(username="dashan").one()
        assert access_upload_for_staff(session, upload_id, own).id == upload_id
        with pytest.raises(NotFound):
            access_upload_for_staff(session, upload_id, other)

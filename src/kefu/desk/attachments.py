"""What a card or a picture in a message may name: only the shop's own things, and for a buyer only theirs."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kefu.accounts.access import NotFound
from kefu.desk import uploads
from kefu.store.models import Order, Product


def check_attachment(
    session: Session,
    *,
    shop_id: str,
    buyer_id: str,
    kind: str,
    payload: dict[str, Any] | None,
    sent_by_buyer: bool,
) -> None:
    """NotFound (naming the thing) unless the message's payload may be sent in this conversation.

    A product must be the shop's; an order the shop's and the conversation buyer's; a picture
    the shop's, and when a buyer sends it, one they uploaded or one already in their conversation.
    """
    if kind == "text" or not payload:
        return
    if kind == "image":
        if sent_by_buyer:
            uploads.access_upload_for_buyer(session, payload["upload_id"], shop_id, buyer_id)
        else:
            uploads.access_upload_for_shop(session, payload["upload_id"], shop_id)
    elif kind == "product":
        product = session.get(Product, payload["product_id"])
        if product is None or product.shop_id != shop_id:
            raise NotFound("product")
    elif kind == "order":
        order = session.get(Order, payload["order_id"])
        if order is None or order.shop_id != shop_id or order.buyer_id != buyer_id:
            raise NotFound("order")

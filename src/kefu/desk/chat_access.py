"""How buyers get into a shop's chat: its token secret, and the demo's anonymous entry."""

from __future__ import annotations

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from kefu.accounts.access import NotFound
from kefu.desk.buyer_tokens import new_secret
from kefu.store.engine import make_sessionmaker, session_scope
from kefu.store.models import Shop


def buyer_secret(session: Session, shop_id: str) -> str:
    """The secret the shop signs buyer tokens with, made on first use.

    Two first visitors at once agree on one: only an empty secret is filled, and both read
    back whichever was stored.
    """
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise NotFound("shop")
    if not shop.buyer_token_secret:
        session.execute(
            update(Shop)
            .where(Shop.id == shop_id, Shop.buyer_token_secret.is_(None))
            .values(buyer_token_secret=new_secret())
        )
        session.refresh(shop)
    assert shop.buyer_token_secret
    return shop.buyer_token_secret


def open_to_anonymous_buyers(engine: Engine) -> list[tuple[str, str]]:
    """Let anyone chat with every shop as a new anonymous buyer (the demo); returns (shop id, name)."""
    with session_scope(make_sessionmaker(engine)) as session:
        shops = session.scalars(select(Shop).order_by(Shop.id)).all()
        for shop in shops:
            buyer_secret(session, shop.id)
            # A new dict, so SQLAlchemy sees the JSON column change.
            shop.policies = {**(shop.policies or {}), "anonymous_chat": True}
        return [(shop.id, shop.name) for shop in shops]

"""The store's rows in the shape the metric definitions read ("facts"), as SQL per dialect.

Analytics never sees a dialect: it asks for these queries and hands them to its engine. Every
instant comes out as whole microseconds since the epoch and money as integer cents, so the
metric expressions are plain integer arithmetic on every engine.
"""

from __future__ import annotations


def _micros(column: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"
    # SQLite keeps UTC text "YYYY-MM-DD HH:MM:SS.ffffff"; strftime('%s') drops the fraction.
    return (
        f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000000"
        f" + COALESCE(CAST(NULLIF(substr({column}, 21, 6), '') AS INTEGER), 0))"
    )


def _cents(column: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"CAST({column} * 100 AS BIGINT)"
    return f"CAST(ROUND({column} * 100) AS INTEGER)"


def fact_queries(dialect: str) -> dict[str, str]:
    """One SELECT per fact table; the columns are those of `kefu.analytics.facts.FACT_COLUMNS`."""
    t = lambda column: _micros(column, dialect)  # noqa: E731
    robot = "CASE WHEN r.robot THEN 1 ELSE 0 END"
    return {
        "messages": (
            "SELECT m.conversation_id, c.shop_id, c.buyer_id, m.sender, m.agent_id, "
            f"{t('m.sent_at')} AS at, m.ordinal AS ord "
            "FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        ),
        "orders": (
            f"SELECT o.id AS order_id, o.shop_id, o.buyer_id, {t('o.created_at')} AS created, "
            f"{t('o.paid_at')} AS paid, {_cents('o.amount', dialect)} AS cents FROM orders o"
        ),
        "order_items": "SELECT i.order_id, i.product_id FROM order_items i",
        "refunds": (
            "SELECT f.id AS refund_id, f.order_id, f.product_id, f.reason, f.status, "
            f"{t('f.completed_at')} AS completed FROM refunds f"
        ),
        "ratings": (
            "SELECT r.id AS rating_id, r.conversation_id, r.shop_id, r.buyer_id, r.agent_id, "
            f"{t('r.rated_at')} AS at, r.score, {robot} AS robot, r.ordinal AS ord FROM ratings r"
        ),
        "reviews": (
            f"SELECT v.shop_id, v.product_id, {t('v.created_at')} AS created, v.rating, "
            "v.dsr_description, v.dsr_service, v.dsr_shipping FROM reviews v"
        ),
        # A flag on the person holds at every shop (empty shop_id); one on shop_buyers at that shop.
        "buyers": (
            "SELECT b.id AS buyer_id, CAST(NULL AS VARCHAR(64)) AS shop_id, b.risk_flag FROM buyers b "
            "WHERE b.risk_flag IS NOT NULL AND b.risk_flag <> '' "
            "UNION ALL SELECT s.buyer_id, s.shop_id, s.risk_flag FROM shop_buyers s "
            "WHERE s.risk_flag IS NOT NULL AND s.risk_flag <> ''"
        ),
        "rating_invitations": (
            "SELECT i.conversation_id, i.shop_id, i.buyer_id, i.agent_id, "
            f"{t('i.invited_at')} AS at FROM rating_invitations i"
        ),
        "shops": "SELECT s.id AS shop_id, s.timezone, s.category, s.name FROM shops s",
        "agents": "SELECT a.shop_id, a.agent_id, a.skill_group FROM staff a",
    }

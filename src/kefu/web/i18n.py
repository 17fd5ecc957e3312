"""The UI's words in Simplified Chinese (the default) and English, and how a language is chosen.

Each language is one dict; a test checks that both have the same keys and that every key a
template uses exists. The order of choice: the switcher's cookie, then the browser's
Accept-Language, then `settings.default_language`.
"""

from __future__ import annotations

from collections.abc import Callable

from kefu.web.words import AREAS

LANGUAGE_COOKIE = "kefu_lang"
FALLBACK_LANGUAGE = "zh-CN"

# Each language names itself, so the switcher reads the same in every UI language.
LANGUAGE_NAMES = {
    "zh-CN": "中文",
    "en": "English",
}

MESSAGES: dict[str, dict[str, str]] = {
    "zh-CN": {
        "app.name": "客服",
        "app.tagline": "网店客服工作台",
        "nav.language": "语言",
        "nav.signed_in_as": "当前登录",
        "login.title": "登录",
        "login.heading": "登录客服工作台",
        "login.lead": "请使用店铺管理员为你开通的账号登录。",
        "login.username": "用户名",
        "login.password": "密码",
        "login.submit": "登录",
        "login.failed": "用户名或密码不对，请再试一次。",
        "login.no_password": "还没有密码？请联系店铺管理员设置。",
        "logout.submit": "退出",
        "home.title": "工作台",
        "home.greeting": "{nickname}，你好",
        "home.shop": "店铺",
        "home.category": "类目",
        "home.nickname": "昵称",
        "home.role": "角色",
        "home.username": "用户名",
        "home.coming": "会话、订单与售后等功能会陆续出现在这里。",
        "role.admin": "管理员",
        "role.supervisor": "主管",
        "role.agent": "客服",
        "category.clothing": "服饰",
        "category.cosmetics": "美妆",
        "category.electronics": "数码",
        "category.food": "食品",
        "category.other": "其他",
        "error.title": "出了点问题",
        "error.csrf": "这个页面已过期，请刷新后重新提交。",
        "error.forbidden": "你的角色无权查看这个页面。",
        "error.not_found": "没有找到这个页面。",
        "error.back": "返回首页",
        "nav.analytics": "服务诊断",
        "analytics.title": "服务诊断",
        "analytics.period_shown": "{start} 至 {last}（{days} 天）",
        "analytics.previous_shown": "环比对照 {start} 至 {last}",
        "analytics.data_as_of": "数据截至 {time}",
        "analytics.range": "时段",
        "analytics.range.last7": "最近 7 天",
        "analytics.range.last30": "最近 30 天",
        "analytics.range.day": "某一天",
        "analytics.range.week": "某一周",
        "analytics.range.month": "某个月",
        "analytics.range.custom": "自定义",
        "analytics.anchor": "日期",
        "analytics.from": "开始日期",
        "analytics.until": "结束日期（含）",
        "analytics.segment": "售前/售后",
        "analytics.segment.all": "全部会话",
        "analytics.segment.presale": "售前",
        "analytics.segment.aftersale": "售后",
        "analytics.channel": "接待方",
        "analytics.channel.all": "人工与机器人",
        "analytics.channel.human": "人工接待",
        "analytics.channel.bot": "仅机器人",
        "analytics.apply": "查看",
        "analytics.filters_hint": (
            "售后指买家在会话前 30 天内有已付款订单；筛选只影响会话与评价，订单、退款与商品评价始终"
            "按全店计算。"
        ),
        "analytics.invalid_choice": "时段或筛选条件看不懂，已按默认显示。",
        "analytics.bad_request": "链接里的指标或时段不对，请从服务诊断页重新点开。",
        "analytics.empty.title": "还没有可分析的数据",
        "analytics.empty.body": "这家店的聊天记录、订单和评价还没有导入。导入后刷新本页即可看到诊断：",
        "analytics.empty.folder": "数据文件夹",
        "analytics.empty.demo": "只想先看看效果？运行 kefu demo 会生成一个示例店铺。",
        "analytics.quiet": "这个时段没有接待、订单或评价记录，换一个时段试试。",
        "analytics.kpis": "核心指标",
        "analytics.vs_previous": "环比",
        "analytics.tone.better": "变好",
        "analytics.tone.worse": "变差",
        "analytics.previous_value": "上期 {value}",
        "analytics.computing": "计算中…",
        "analytics.show_changes": "显示环比",
        "analytics.peer_mean": "同行均值",
        "analytics.peer_excellent": "同行优秀",
        "analytics.peers_too_few": "同行不足 {n} 家，不显示对比",
        "analytics.peers_instance": "同行：本系统中没有同类目的店铺，以其他全部店铺对比。",
        "analytics.peers_category": "同行：本系统中{category}类目的其他店铺。",
        "analytics.peers_excellent_hint": "同行优秀为前 10% 的水平（响应时间取最快的 10%）。",
        "analytics.trend": "每日趋势",
        "analytics.trend_metric": "指标",
        "analytics.trend_table": "查看每日数据",
        "analytics.day": "日期",
        "analytics.satisfaction": "服务满意度",
        "analytics.over_ratings": "按 {n} 条评价计算",
        "analytics.no_ratings_table": "数据里没有评价表，导入服务评价后可看到满意度。",
        "analytics.no_ratings": "这个时段没有收到评价。",
        "analytics.excluded": "新规则不计入 {total} 条评价中的 {n} 条：",
        "analytics.excluded.flagged": "条来自风险账号（已知刷评买家）",
        "analytics.excluded.robot": "条是机器人评价",
        "analytics.excluded.repeated": "条是同一买家 10 分钟内的重复评价，或同一买家在本期的第 4 条及以后",
        "analytics.new_rule_hint": (
            "新规则（平台 2022 年起采用）依次剔除以上评价后再计算满意率，旧规则计入全部评价。"
        ),
        "analytics.dsr": "店铺动态评分（DSR）",
        "analytics.dsr_window": "按截至本期末的近 180 天商品评价计算，与所选时段无关。",
        "analytics.no_reviews": "近 180 天没有带评分的商品评价。",
        "analytics.ours": "本店",
        "analytics.scale": "1–5 分",
        "analytics.refunds": "退款分析",
        "analytics.refund_rate_hint": "（本期完成的退款 ÷ 本期付款订单的商品件数）",
        "analytics.no_refunds_table": "数据里没有退款表，导入退款记录后可看到退款分析。",
        "analytics.by_reason": "按原因",
        "analytics.reason": "退款原因",
        "analytics.refund_count": "退款数",
        "analytics.share": "占比",
        "analytics.no_refunds": "这个时段没有完成的退款。",
        "analytics.by_product": "按商品",
        "analytics.product": "商品",
        "analytics.paid_lines": "付款件数",
        "analytics.top_reason": "主要原因",
        "analytics.no_products": "这个时段没有付款或退款的商品。",
        "analytics.agents": "客服绩效",
        "analytics.agents_hint": "点表头排序；点数字查看背后的会话。",
        "analytics.agent": "客服",
        "analytics.whole_shop": "全店",
        "analytics.no_agents": "这个时段没有客服接待记录。",
        "analytics.breadcrumbs": "导航",
        "analytics.back_to_diagnosis": "返回服务诊断",
        "analytics.back": "返回",
        "analytics.drill.answered": "以下 {n} 个会话里有该客服在本期回复的买家提问轮次。",
        "analytics.drill.first": "以下 {n} 个会话在本期开始，且买家的第一轮提问由该客服首次回复。",
        "analytics.drill.served": "以下 {n} 个会话里该客服在本期发过消息。",
        "analytics.drill.ordered": "以下 {n} 个会话里有本期归属到该客服的下单前最后一条客服消息。",
        "analytics.drill.paid": "以下 {n} 个会话里有本期归属到该客服、且已付款订单的下单前最后一条客服消息。",
        "analytics.drill.rated": "以下 {n} 个会话在本期收到了评价。",
        "analytics.drill.invited": "以下 {n} 个会话里该客服在本期接待过，并在本期邀请买家评价。",
        "analytics.drill_items.answered": "回复轮次",
        "analytics.drill_items.first": "首轮",
        "analytics.drill_items.served": "客服消息",
        "analytics.drill_items.ordered": "订单",
        "analytics.drill_items.paid": "付款订单",
        "analytics.drill_items.rated": "评价",
        "analytics.drill_items.invited": "邀评次数",
        "analytics.drill_value.answered": "平均响应(秒)",
        "analytics.drill_value.first": "首次响应(秒)",
        "analytics.drill_value.ordered": "订单金额(元)",
        "analytics.drill_value.paid": "付款金额(元)",
        "analytics.drill_value.rated": "评价",
        "analytics.drill_more": "只显示前 {shown} 个，共 {total} 个。缩短时段可看到全部。",
        "analytics.drill_none": "没有会话。",
        "analytics.conversation": "会话",
        "analytics.buyer": "买家",
        "analytics.started_at": "首条消息",
        "analytics.score.very_satisfied": "非常满意",
        "analytics.score.satisfied": "满意",
        "analytics.score.neutral": "一般",
        "analytics.score.dissatisfied": "不满意",
        "analytics.score.very_dissatisfied": "非常不满意",
        "analytics.transcript": "会话记录",
        "analytics.transcript_readonly": "只读",
        "analytics.transcript_empty": "这个会话没有消息。",
        "analytics.rated": "评价",
        "analytics.sender.buyer": "买家",
        "analytics.sender.agent": "客服",
        "analytics.sender.bot": "机器人",
        "analytics.sender.system": "系统",
    },
    "en": {
        "app.name": "kefu",
        "app.tagline": "Customer service desk for online shops",
        "nav.language": "Language",
        "nav.signed_in_as": "Signed in as",
        "login.title": "Sign in",
        "login.heading": "Sign in to the service desk",
        "login.lead": "Use the account your shop's admin set up for you.",
        "login.username": "Username",
        "login.password": "Password",
        "login.submit": "Sign in",
        "login.failed": "That username and password do not match. Please try again.",
        "login.no_password": "No password yet? Ask your shop's admin to set one.",
        "logout.submit": "Sign out",
        "home.title": "Desk",
        "home.greeting": "Hello, {nickname}",
        "home.shop": "Shop",
        "home.category": "Category",
        "home.nickname": "Nickname",
        "home.role": "Role",
        "home.username": "Username",
        "home.coming": "Conversations, orders and after-sales will appear here as they are built.",
        "role.admin": "Admin",
        "role.supervisor": "Supervisor",
        "role.agent": "Agent",
        "category.clothing": "Clothing",
        "category.cosmetics": "Cosmetics",
        "category.electronics": "Electronics",
        "category.food": "Food",
        "category.other": "Other",
        "error.title": "Something went wrong",
        "error.csrf": "This page has expired. Reload it and submit again.",
        "error.forbidden": "Your role does not give access to this page.",
        "error.not_found": "There is no page here.",
        "error.back": "Back to the start page",
        "nav.analytics": "Diagnosis",
        "analytics.title": "Service diagnosis",
        "analytics.period_shown": "{start} to {last} ({days} days)",
        "analytics.previous_shown": "compared with {start} to {last}",
        "analytics.data_as_of": "Data as of {time}",
        "analytics.range": "Period",
        "analytics.range.last7": "Last 7 days",
        "analytics.range.last30": "Last 30 days",
        "analytics.range.day": "A day",
        "analytics.range.week": "A week",
        "analytics.range.month": "A month",
        "analytics.range.custom": "Custom",
        "analytics.anchor": "Date",
        "analytics.from": "From",
        "analytics.until": "To (included)",
        "analytics.segment": "Pre-/after-sale",
        "analytics.segment.all": "All conversations",
        "analytics.segment.presale": "Pre-sale",
        "analytics.segment.aftersale": "After-sale",
        "analytics.channel": "Answered by",
        "analytics.channel.all": "People and bot",
        "analytics.channel.human": "People",
        "analytics.channel.bot": "Bot only",
        "analytics.apply": "Show",
        "analytics.filters_hint": (
            "After-sale: the buyer paid an order in the 30 days before the conversation. Filters "
            "narrow conversations and ratings; orders, refunds and reviews always count for the "
            "whole shop."
        ),
        "analytics.invalid_choice": "The period or filters were not understood; showing the defaults.",
        "analytics.bad_request": (
            "The link names an unknown metric or period. Open it again from the diagnosis page."
        ),
        "analytics.empty.title": "No data to analyse yet",
        "analytics.empty.body": (
            "This shop's chats, orders and ratings have not been imported. Import them and reload this page:"
        ),
        "analytics.empty.folder": "DATA_FOLDER",
        "analytics.empty.demo": "Just looking around? kefu demo creates a sample shop.",
        "analytics.quiet": (
            "Nothing happened in this period: no chats, orders or ratings. Try another period."
        ),
        "analytics.kpis": "Key figures",
        "analytics.vs_previous": "vs previous",
        "analytics.tone.better": "better",
        "analytics.tone.worse": "worse",
        "analytics.previous_value": "previous {value}",
        "analytics.computing": "being worked out…",
        "analytics.show_changes": "Show the change against the previous period",
        "analytics.peer_mean": "Peer mean",
        "analytics.peer_excellent": "Peer top",
        "analytics.peers_too_few": "Fewer than {n} peers: no comparison shown",
        "analytics.peers_instance": (
            "Peers: no other shop here sells in this category, so all other shops are compared."
        ),
        "analytics.peers_category": "Peers: the other {category} shops here.",
        "analytics.peers_excellent_hint": (
            "Peer top is the best 10% level (for response times, the fastest 10%)."
        ),
        "analytics.trend": "Daily trend",
        "analytics.trend_metric": "Metric",
        "analytics.trend_table": "Show the daily figures",
        "analytics.day": "Day",
        "analytics.satisfaction": "Service satisfaction",
        "analytics.over_ratings": "over {n} ratings",
        "analytics.no_ratings_table": "The data has no ratings table: import ratings to see satisfaction.",
        "analytics.no_ratings": "No ratings in this period.",
        "analytics.excluded": "The new rule leaves out {n} of {total} ratings:",
        "analytics.excluded.flagged": "from flagged accounts (known fake reviewers)",
        "analytics.excluded.robot": "given by robots",
        "analytics.excluded.repeated": (
            "repeated by a buyer within 10 minutes, or a buyer's fourth and later in the period"
        ),
        "analytics.new_rule_hint": (
            "The new rule (used by the platforms since 2022) removes these, in this order, before "
            "taking the share; the old rule counts every rating."
        ),
        "analytics.dsr": "Detailed seller ratings (DSR)",
        "analytics.dsr_window": (
            "Over the reviews of the 180 days up to the end of the period, whatever the period."
        ),
        "analytics.no_reviews": "No scored reviews in the last 180 days.",
        "analytics.ours": "This shop",
        "analytics.scale": "1–5",
        "analytics.refunds": "Refunds",
        "analytics.refund_rate_hint": "(refunds completed in the period ÷ order lines paid in the period)",
        "analytics.no_refunds_table": "The data has no refunds table: import refunds to see this analysis.",
        "analytics.by_reason": "By reason",
        "analytics.reason": "Reason",
        "analytics.refund_count": "Refunds",
        "analytics.share": "Share",
        "analytics.no_refunds": "No refunds completed in this period.",
        "analytics.by_product": "By product",
        "analytics.product": "Product",
        "analytics.paid_lines": "Paid lines",
        "analytics.top_reason": "Main reasons",
        "analytics.no_products": "No product was paid for or refunded in this period.",
        "analytics.agents": "Agents",
        "analytics.agents_hint": (
            "Click a heading to sort; click a number to see the conversations behind it."
        ),
        "analytics.agent": "Agent",
        "analytics.whole_shop": "Whole shop",
        "analytics.no_agents": "No agent served a buyer in this period.",
        "analytics.breadcrumbs": "Navigation",
        "analytics.back_to_diagnosis": "Back to the diagnosis",
        "analytics.back": "Back",
        "analytics.drill.answered": "{n} conversations with buyer turns the agent answered in the period.",
        "analytics.drill.first": (
            "{n} conversations starting in the period whose first buyer turn the agent answered."
        ),
        "analytics.drill.served": "{n} conversations where the agent wrote in the period.",
        "analytics.drill.ordered": (
            "{n} conversations holding the last agent message before an order credited to the "
            "agent in the period."
        ),
        "analytics.drill.paid": (
            "{n} conversations holding the last agent message before a paid order credited to the "
            "agent in the period."
        ),
        "analytics.drill.rated": "{n} conversations rated in the period.",
        "analytics.drill.invited": "{n} conversations the agent served and asked to be rated in the period.",
        "analytics.drill_items.answered": "Turns answered",
        "analytics.drill_items.first": "First turns",
        "analytics.drill_items.served": "Agent messages",
        "analytics.drill_items.ordered": "Orders",
        "analytics.drill_items.paid": "Paid orders",
        "analytics.drill_items.rated": "Ratings",
        "analytics.drill_items.invited": "Invitations",
        "analytics.drill_value.answered": "Avg response (s)",
        "analytics.drill_value.first": "First response (s)",
        "analytics.drill_value.ordered": "Order amount (CNY)",
        "analytics.drill_value.paid": "Paid amount (CNY)",
        "analytics.drill_value.rated": "Scores",
        "analytics.drill_more": "Showing the first {shown} of {total}. A shorter period shows them all.",
        "analytics.drill_none": "No conversations.",
        "analytics.conversation": "Conversation",
        "analytics.buyer": "Buyer",
        "analytics.started_at": "First message",
        "analytics.score.very_satisfied": "Very satisfied",
        "analytics.score.satisfied": "Satisfied",
        "analytics.score.neutral": "Neutral",
        "analytics.score.dissatisfied": "Dissatisfied",
        "analytics.score.very_dissatisfied": "Very dissatisfied",
        "analytics.transcript": "Conversation",
        "analytics.transcript_readonly": "read-only",
        "analytics.transcript_empty": "This conversation has no messages.",
        "analytics.rated": "Rated",
        "analytics.sender.buyer": "Buyer",
        "analytics.sender.agent": "Agent",
        "analytics.sender.bot": "Bot",
        "analytics.sender.system": "System",
    },
}


def _merge_areas() -> None:
    for area in AREAS:
        for language, words in area.items():
            clash = MESSAGES[language].keys() & words.keys()
            if clash:
                raise RuntimeError(f"UI words defined twice: {sorted(clash)}")
            MESSAGES[language].update(words)


_merge_areas()
LANGUAGES = tuple(MESSAGES)

Translator = Callable[..., str]


def supported(language: str | None) -> str | None:
    """`language` if kefu has a catalogue for it, else None."""
    return language if language in MESSAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The first supported language in an Accept-Language header, by quality; None if none fits.

    Every Chinese variant maps to zh-CN, the only Chinese catalogue.
    """
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.lower()))
    for _, _, tag in sorted(ranked):
        primary = tag.split("-")[0]
        if primary == "zh":
            return "zh-CN"
        if primary == "en":
            return "en"
    return None


def choose_language(cookie: str | None, accept_language: str | None, default: str) -> str:
    """The UI language: the switcher's choice, the browser's wish, the configured default."""
    return (
        supported(cookie) or from_accept_language(accept_language) or supported(default) or FALLBACK_LANGUAGE
    )


def translator(language: str) -> Translator:
    """A function from message key (and named values) to text in `language`.

    A missing key raises KeyError: the catalogue test and the page tests catch it early.
    """
    catalogue = MESSAGES[language]

    def translate(key: str, /, **values: object) -> str:
        text = catalogue[key]
        return text.format(**values) if values else text

    return translate


def labeller(language: str) -> Callable[[str, str], str]:
    """A function naming a stored value (a role, a category) in `language`; unknown values show as stored."""
    catalogue = MESSAGES[language]

    def label(kind: str, value: str) -> str:
        return catalogue.get(f"{kind}.{value}", value)

    return label

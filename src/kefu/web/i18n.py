"""The UI's words in Simplified Chinese (the default) and English, and how a language is chosen.

Each language is one dict; a test checks that both have the same keys and that every key a
template uses exists. The order of choice: the switcher's cookie, then the browser's
Accept-Language, then `settings.default_language`.
"""

from __future__ import annotations

from collections.abc import Callable

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
    },
}

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

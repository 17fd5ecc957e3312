"""The UI's words by area, one module each, merged into `kefu.web.i18n.MESSAGES`.

Each module holds `WORDS = {"zh-CN": {...}, "en": {...}}`; a key may be defined only once
across the areas and the base dict (i18n checks it at import).
"""

from kefu.web.words import api, chat, desk, settings, sidebar

AREAS = (desk.WORDS, chat.WORDS, sidebar.WORDS, api.WORDS, settings.WORDS)

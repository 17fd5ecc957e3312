"""The words of the shop settings page (店铺设置) and of the problems its form can have.

Problem keys are ``settings.problem.<code>`` for each code of `kefu.desk.shop_settings.PROBLEM_CODES`.
"""

WORDS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "nav.shop_settings": "店铺设置",
        "settings.title": "店铺设置",
        "settings.lead": (
            "这里决定买家打开聊天时看到什么、工作台怎样提醒客服，以及系统什么时候生成跟进任务。"
            "保存后马上生效。"
        ),
        "settings.saved": "已保存",
        "settings.refused": "有 {n} 处需要修改，这次的改动还没有保存。",
        "settings.save": "保存设置",
        "settings.default": "默认 {default}",
        "settings.section.reception": "接待",
        "settings.welcome": "欢迎语",
        "settings.welcome_hint": (
            "买家打开聊天时看到的第一句话。可以用 {shop}（店铺名）、{agent}（接待客服的昵称）"
            "和 {emoji}（表情）。留空就用系统自带的欢迎语。"
        ),
        "settings.welcome_preview": "买家看到的样子",
        "settings.welcome_preview_hint": "以你的昵称作为接待客服显示。",
        "settings.business_hours": "营业时间",
        "settings.business_hours_hint": (
            "按店铺所在时区（{timezone}）填写，例如 09:00-12:00, 13:30-22:00；过了午夜可以写 "
            "20:00-02:00。非营业时间，买家会看到下次几点有人回复。留空表示全天有人接待。"
        ),
        "settings.section.queue": "排队与计时",
        "settings.wait_amber_s": "计时变黄（秒）",
        "settings.wait_amber_s_hint": "买家等了这么久还没人回复，工作台上的计时变成黄色。默认 {default} 秒。",
        "settings.wait_red_s": "计时变红（秒）",
        "settings.wait_red_s_hint": (
            "等到这么久就变成红色，要比变黄的时间长。默认 {default} 秒。"
        ),
        "settings.peak_queue_per_agent": "高峰提示（每位在线客服对应的排队人数）",
        "settings.peak_queue_per_agent_hint": (
            "排队的买家多于「在线客服人数 × 这个数」时，买家会看到回复可能慢一些的提示。默认 {default}。"
        ),
        "settings.section.followups": "跟进任务",
        "settings.followups_hint": "两项都填 0 表示关闭，系统就不再生成这一类任务。",
        "settings.follow_up_after_h": "未下单跟进（小时）",
        "settings.follow_up_after_h_hint": (
            "售前买家最后一条消息之后这么多小时还没下单，给接待的客服生成一条跟进任务。"
            "默认 {default} 小时；填 0 关闭。"
        ),
        "settings.payment_reminder_after_min": "催付提醒（分钟）",
        "settings.payment_reminder_after_min_hint": (
            "订单拍下这么多分钟后还没付款，生成一条催付任务。默认 {default} 分钟；填 0 关闭。"
        ),
        "settings.off": "已关闭",
        "settings.section.promotions": "活动",
        "settings.promotions_hint": (
            "进行中的活动会出现在工作台的买家侧栏里，方便客服随时告诉买家。时间按店铺时区；"
            "只写日期表示一整天，结束那天也算在内。开始和结束都可以不填。"
        ),
        "settings.promotion.title": "标题",
        "settings.promotion.text": "说明",
        "settings.promotion.starts": "开始",
        "settings.promotion.ends": "结束",
        "settings.promotion.date_hint": "2026-11-01",
        "settings.promotion.add": "添加活动",
        "settings.promotion.remove": "删除这条",
        "settings.section.embed": "嵌入",
        "settings.anonymous_chat": "允许访客不登录直接咨询",
        "settings.anonymous_chat_hint": (
            "打开后，任何人打开 {chat_url} 都能直接聊天。关闭时，买家需要通过店铺签发的链接进入。"
        ),
        "settings.embed_origins": "允许嵌入聊天窗口的网站",
        "settings.embed_origins_hint": (
            "每行一个网站地址，只写到域名为止（可以带端口），例如 https://shop.example.com；"
            "https://*.example.com 表示它的所有子域名。本机调试可以填 http://localhost。"
            "留空时只有本系统自己的页面能嵌入。"
        ),
        "settings.problem.too_long": "最多 {limit} 个字，请删减一些。",
        "settings.problem.unknown_placeholder": (
            "{name} 不是系统会替换的内容，买家会原样看到它。可以用的是 {{shop}}、{{agent}} 和 {{emoji}}。"
        ),
        "settings.problem.hours_not_a_range": (
            "“{piece}” 不是时间段，请写成 09:00-18:00 这样，多段之间用逗号隔开。"
        ),
        "settings.problem.hours_not_a_time": "{piece} 不是一天里的时间（小时 0–24，分钟 0–59）。",
        "settings.problem.hours_same_time": (
            "“{piece}” 开始和结束是同一个时间。全天接待请写 00:00-24:00，或者留空。"
        ),
        "settings.problem.not_a_number": "“{typed}” 不是数字。",
        "settings.problem.not_whole": "请填整数（现在是 {typed}）。",
        "settings.problem.too_small": "不能小于 {minimum}。",
        "settings.problem.too_large": "不能大于 {maximum}。",
        "settings.problem.red_not_after_amber": "变红要比变黄晚：现在变黄是 {amber} 秒，变红是 {red} 秒。",
        "settings.problem.too_many": "最多 {limit} 条。",
        "settings.problem.promotion_title_missing": "这条活动还没有标题。",
        "settings.problem.promotion_title_too_long": "标题最多 {limit} 个字。",
        "settings.problem.promotion_text_too_long": "说明最多 {limit} 个字。",
        "settings.problem.promotion_bad_date": (
            "“{typed}” 看不出是哪天，请写成 2026-11-01 或 2026-11-01 20:00。"
        ),
        "settings.problem.promotion_ends_before_start": "结束时间在开始时间之前。",
        "settings.problem.origin_has_path": (
            "“{typed}” 带了路径。这里只写到域名为止，例如 https://shop.example.com。"
        ),
        "settings.problem.origin_not_https": (
            "“{typed}” 不是 https 地址。除了本机调试用的 http://localhost，网站都需要 https。"
        ),
        "settings.problem.origin_bad": "“{typed}” 不是网站地址，请写成 https://shop.example.com 这样。",
    },
    "en": {
        "nav.shop_settings": "Shop settings",
        "settings.title": "Shop settings",
        "settings.lead": (
            "What buyers see when they open the chat, how the workbench warns your team, and when "
            "follow-up tasks are made. Changes apply as soon as you save."
        ),
        "settings.saved": "Saved",
        "settings.refused": "{n} things need fixing; nothing from this form has been saved yet.",
        "settings.save": "Save settings",
        "settings.default": "default {default}",
        "settings.section.reception": "Reception",
        "settings.welcome": "Welcome message",
        "settings.welcome_hint": (
            "The first thing buyers read when they open the chat. You can use {shop} (the shop's "
            "name), {agent} (the nickname of the agent who answers) and {emoji}. Leave it empty "
            "for kefu's own welcome."
        ),
        "settings.welcome_preview": "What buyers see",
        "settings.welcome_preview_hint": "Shown with your nickname as the agent.",
        "settings.business_hours": "Business hours",
        "settings.business_hours_hint": (
            "In the shop's time zone ({timezone}), for example 09:00-12:00, 13:30-22:00; past "
            "midnight write 20:00-02:00. Outside these hours buyers are told when someone will "
            "reply. Leave it empty if someone answers around the clock."
        ),
        "settings.section.queue": "Queue and timers",
        "settings.wait_amber_s": "Timer turns amber (seconds)",
        "settings.wait_amber_s_hint": (
            "After a buyer has waited this long without a reply, their timer on the workbench "
            "turns amber. Default {default} s."
        ),
        "settings.wait_red_s": "Timer turns red (seconds)",
        "settings.wait_red_s_hint": (
            "After this long it turns red; it must be later than amber. Default {default} s."
        ),
        "settings.peak_queue_per_agent": "Peak notice (waiting buyers per online agent)",
        "settings.peak_queue_per_agent_hint": (
            "When more buyers wait than online agents × this number, buyers are told a reply may "
            "take a little longer. Default {default}."
        ),
        "settings.section.followups": "Follow-up tasks",
        "settings.followups_hint": "0 turns a rule off: no tasks of that kind are made.",
        "settings.follow_up_after_h": "Follow up without an order (hours)",
        "settings.follow_up_after_h_hint": (
            "When a pre-sale buyer has not ordered this many hours after their last message, the "
            "agent who served them gets a follow-up task. Default {default} h; 0 turns it off."
        ),
        "settings.payment_reminder_after_min": "Payment reminder (minutes)",
        "settings.payment_reminder_after_min_hint": (
            "When an order is still unpaid this many minutes after it was placed, a payment "
            "reminder task is made. Default {default} min; 0 turns it off."
        ),
        "settings.off": "off",
        "settings.section.promotions": "Promotions",
        "settings.promotions_hint": (
            "Promotions that are running show in the buyer sidebar of the workbench, so agents can "
            "mention them. Times are in the shop's time zone; a date alone means the whole day, "
            "the end day included. Start and end may be left empty."
        ),
        "settings.promotion.title": "Title",
        "settings.promotion.text": "Details",
        "settings.promotion.starts": "Starts",
        "settings.promotion.ends": "Ends",
        "settings.promotion.date_hint": "2026-11-01",
        "settings.promotion.add": "Add a promotion",
        "settings.promotion.remove": "Remove",
        "settings.section.embed": "Embedding",
        "settings.anonymous_chat": "Let visitors chat without signing in",
        "settings.anonymous_chat_hint": (
            "When on, anyone who opens {chat_url} can start chatting. When off, buyers need a link "
            "signed by the shop."
        ),
        "settings.embed_origins": "Sites allowed to embed the chat",
        "settings.embed_origins_hint": (
            "One site per line, up to the domain name (a port is fine), for example "
            "https://shop.example.com; https://*.example.com covers all its subdomains. For testing "
            "on your own computer use http://localhost. Empty: only kefu's own pages may embed it."
        ),
        "settings.problem.too_long": "At most {limit} characters; please shorten it.",
        "settings.problem.unknown_placeholder": (
            "{name} is not something kefu fills in, so buyers would see it as typed. You can use "
            "{{shop}}, {{agent}} and {{emoji}}."
        ),
        "settings.problem.hours_not_a_range": (
            "“{piece}” is not a time range; write it like 09:00-18:00, with commas between ranges."
        ),
        "settings.problem.hours_not_a_time": "{piece} is not a time of day (hours 0–24, minutes 0–59).",
        "settings.problem.hours_same_time": (
            "“{piece}” opens and closes at the same time. For the whole day write 00:00-24:00, or "
            "leave it empty."
        ),
        "settings.problem.not_a_number": "“{typed}” is not a number.",
        "settings.problem.not_whole": "Please use a whole number (not {typed}).",
        "settings.problem.too_small": "It cannot be less than {minimum}.",
        "settings.problem.too_large": "It cannot be more than {maximum}.",
        "settings.problem.red_not_after_amber": (
            "Red must come later than amber: amber is {amber} s and red {red} s now."
        ),
        "settings.problem.too_many": "At most {limit} entries.",
        "settings.problem.promotion_title_missing": "This promotion has no title yet.",
        "settings.problem.promotion_title_too_long": "The title can be at most {limit} characters.",
        "settings.problem.promotion_text_too_long": "The details can be at most {limit} characters.",
        "settings.problem.promotion_bad_date": (
            "“{typed}” is not a date kefu can read; write 2026-11-01 or 2026-11-01 20:00."
        ),
        "settings.problem.promotion_ends_before_start": "It ends before it starts.",
        "settings.problem.origin_has_path": (
            "“{typed}” has a path. Give the site up to its domain name only, such as "
            "https://shop.example.com."
        ),
        "settings.problem.origin_not_https": (
            "“{typed}” is not an https address. Apart from http://localhost for testing, sites need https."
        ),
        "settings.problem.origin_bad": "“{typed}” is not a site address; write it like https://shop.example.com.",
    },
}

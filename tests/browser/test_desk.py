"""In a real Chromium: a buyer on the chat page and agents on the workbench, at the same time.

Each test opens a new buyer (a fresh browser profile, so a new anonymous token) and finds the
conversation by the id the buyer's page holds. The network drop goes through a TCP proxy in
front of the server: Chromium's `context.set_offline(True)` stalls a WebSocket's frames but
does not close it, so the page could not tell the line was gone (checked on Chromium 14x).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from desk_world import AGENT, COLLEAGUE, PASSWORD, SHOP_ID, SHOP_NAME, DeskWorld, Member, start_desk_world
from playwright.sync_api import APIResponse, Browser, BrowserContext, Page, Route, expect
from sqlalchemy import select

from kefu.store.engine import make_engine, make_sessionmaker, session_scope, writing
from kefu.store.live_messages import NewMessage, write_batch
from kefu.store.models import Message, Rating, RatingInvitation, Transfer

pytestmark = pytest.mark.browser

COUPON_REPLY = "单独改价确实做不到，不过我可以送您一张20元的店铺券，领取后下单会自动抵扣，算下来能省一些。"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[DeskWorld]:
    yield from start_desk_world(tmp_path_factory.mktemp("desk-world"))


class Watched:
    """A page whose console errors, uncaught exceptions and dialogs (alert) are recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", self._dialog)

    def _console(self, message) -> None:
        # The sidebar is another module's partial; until its route is registered it answers 404.
        if message.type == "error" and "sidebar" not in message.text and "404" not in message.text:
            self.errors.append(message.text)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def open_buyer(browser: Browser, contexts: list[BrowserContext], base: str) -> Watched:
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    buyer = Watched(page)
    page.goto(f"{base}/chat/{SHOP_ID}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    return buyer


def open_desk(browser: Browser, contexts: list[BrowserContext], base: str, member: Member = AGENT) -> Watched:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    agent = Watched(page)
    page.goto(f"{base}/login?next=/desk")
    page.get_by_label("用户名", exact=True).fill(member.username)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(f"{base}/desk")
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    return agent


def buyer_says(buyer: Watched, text: str) -> None:
    buyer.page.locator("#chat-text").fill(text)
    buyer.page.locator("#chat-text").press("Enter")


def conversation_of(buyer: Watched) -> str:
    """The buyer's conversation id, once the server has acknowledged their first message."""
    # Polling with wait_for_function would need eval, which the page's content policy forbids.
    chat = buyer.page.locator("#chat")
    expect(chat).to_have_attribute("data-conversation", re.compile(r"^c\w+$"))
    return chat.get_attribute("data-conversation") or ""


def queue_item(agent: Watched, conversation_id: str):
    return agent.page.locator(f'#queue-list [data-conversation="{conversation_id}"]')


def open_conversation(agent: Watched, conversation_id: str, tab: str = "mine") -> None:
    agent.page.locator(f"#tab-{tab}").click()
    queue_item(agent, conversation_id).get_by_role("button").click()
    expect(agent.page.locator("#conversation")).to_have_attribute("data-conversation", conversation_id)


def agent_says(agent: Watched, text: str) -> None:
    agent.page.locator("#composer-text").fill(text)
    agent.page.locator("#composer-text").press("Enter")


def texts(page: Page, selector: str) -> list[str]:
    return page.locator(selector).all_inner_texts()


def db_session(world: DeskWorld):
    engine = make_engine(world.db_url)
    return engine, session_scope(make_sessionmaker(engine))


def test_a_buyer_asks_and_the_agent_answers_with_a_filled_canned_reply(browser, contexts, world):
    agent = open_desk(browser, contexts, world.url)
    buyer = open_buyer(browser, contexts, world.url)
    # The shop's welcome, with its name and an emoji; the agent is named once someone takes it.
    expect(buyer.page.locator("#welcome-text")).to_have_text(f"欢迎光临{SHOP_NAME}，我是店铺客服 😊")

    buyer_says(buyer, "你好，在吗？")
    conversation = conversation_of(buyer)
    # The agent is online with room: the conversation is theirs at once.
    expect(queue_item(agent, conversation)).to_be_visible()
    open_conversation(agent, conversation)
    expect(agent.page.locator("#transcript .msg-buyer .msg-text")).to_have_text(["你好，在吗？"])
    expect(buyer.page.locator("#chat-sub")).to_have_text(f"客服{AGENT.nickname}为您服务")

    buyer_says(buyer, "这件衬衫能便宜点吗")
    # Seen by the agent within a second of the buyer pressing Enter.
    expect(agent.page.locator("#transcript .msg-buyer .msg-text").last).to_have_text(
        "这件衬衫能便宜点吗", timeout=1_000
    )

    composer = agent.page.locator("#composer-text")
    composer.fill("/yj2")
    expect(agent.page.locator("#canned-list [role=option]").first).to_be_visible()
    expect(agent.page.locator("#canned-list [role=option]").first).to_contain_text("/yj2")
    composer.press("Enter")
    # The reply has a blank the agent must fill: the composer asks for it first.
    blank = agent.page.get_by_label("优惠券面额")
    expect(blank).to_be_focused()
    agent.page.locator("#prompts-done").click()
    expect(blank).to_have_attribute("aria-invalid", "true")
    blank.fill("20元")
    blank.press("Enter")
    expect(composer).to_have_value(COUPON_REPLY)
    expect(agent.page.locator("#repeat-warning")).to_be_hidden()
    composer.press("Enter")

    expect(buyer.page.locator("#transcript .msg-agent .msg-text")).to_have_text([COUPON_REPLY])
    expect(agent.page.locator("#transcript .msg-mine")).to_have_count(1)
    # The buyer's page is open, so the reply is read.
    expect(agent.page.locator("#transcript .msg-mine .msg-state")).to_have_text("已读")

    # The same canned reply a second time in this conversation: the composer warns.
    composer.fill("/yj2")
    expect(agent.page.locator("#canned-list [role=option]").first).to_be_visible()
    expect(agent.page.locator("#canned-list [role=option]").first).to_contain_text("/yj2")
    composer.press("Enter")
    agent.page.get_by_label("优惠券面额").fill("20元")
    agent.page.locator("#prompts-done").click()
    expect(agent.page.locator("#repeat-warning")).to_be_visible()

    assert buyer.errors == [] and agent.errors == []


def test_a_conversation_is_transferred_with_a_note_the_colleague_reads(browser, contexts, world):
    agent = open_desk(browser, contexts, world.url)
    colleague = open_desk(browser, contexts, world.url, COLLEAGUE)
    buyer = open_buyer(browser, contexts, world.url)
    buyer_says(buyer, "我买的裤子拉链坏了")
    conversation = conversation_of(buyer)
    open_conversation(agent, conversation)

    agent.page.get_by_role("button", name="转接").click()
    dialog = agent.page.get_by_role("dialog")
    dialog.get_by_label("转给").select_option(label=f"{COLLEAGUE.nickname} · 售后组")
    note = "拉链质量问题，已拍照片，请安排换货"
    dialog.get_by_label("交接说明").fill(note)
    dialog.get_by_role("button", name="确认转接").click()
    expect(dialog).to_be_hidden()
    expect(agent.page.locator("#conversation-agent")).to_have_text(f"接待：{COLLEAGUE.nickname}")
    # No longer the agent's to write to.
    expect(agent.page.locator("#composer-text")).to_be_disabled()

    expect(buyer.page.locator("#transcript .msg-system")).to_contain_text(f"已为您转接给{COLLEAGUE.nickname}")
    expect(queue_item(colleague, conversation)).to_be_visible()
    open_conversation(colleague, conversation)
    expect(colleague.page.locator("#notes .note-handover .note-text")).to_have_text([note])
    expect(colleague.page.locator("#transcript .msg-buyer .msg-text")).to_have_text(["我买的裤子拉链坏了"])

    engine, scope = db_session(world)
    with scope as session:
        stored = session.scalars(select(Transfer).where(Transfer.conversation_id == conversation)).one()
        assert (stored.from_agent_id, stored.to_agent_id) == (AGENT.agent_id, COLLEAGUE.agent_id)
        assert stored.note == note
    engine.dispose()
    assert buyer.errors == [] and agent.errors == [] and colleague.errors == []


def test_the_waiting_timer_turns_amber_and_the_last_word_marker_follows_the_buyer(browser, contexts, world):
    agent = open_desk(browser, contexts, world.url)
    buyer = open_buyer(browser, contexts, world.url)
    buyer_says(buyer, "发什么快递？")
    conversation = conversation_of(buyer)
    item = queue_item(agent, conversation)
    agent.page.locator("#tab-mine").click()

    # The shop's amber threshold is 2 s (policy wait_amber_s).
    expect(item).to_have_attribute("data-wait", "ok")
    expect(item.locator(".last-word")).to_have_text("待回复")
    expect(item).to_have_attribute("data-wait", "amber", timeout=5_000)
    assert re.fullmatch(r"0:0[2-9]", item.locator(".wait-timer").inner_text())

    open_conversation(agent, conversation)
    expect(agent.page.locator("#conversation-timer")).to_have_attribute("data-wait", "amber")
    agent_says(agent, "默认发中通快递，一般两三天到。")
    # Answered: nobody waits, the marker goes.
    expect(item).to_have_attribute("data-wait", "none")
    expect(item.locator(".last-word")).to_have_count(0)
    expect(agent.page.locator("#conversation-timer")).to_be_hidden()
    assert buyer.errors == [] and agent.errors == []


def test_messages_survive_a_dropped_line_without_loss_or_doubles(browser, contexts, world):
    agent = open_desk(browser, contexts, world.url)
    buyer = open_buyer(browser, contexts, world.cut_url)
    indicator = buyer.page.locator("#connection")
    buyer_says(buyer, "第一条")
    conversation = conversation_of(buyer)
    open_conversation(agent, conversation)
    expect(agent.page.locator("#transcript .msg-buyer .msg-text")).to_have_text(["第一条"])

    # The server stores the next message but its ack never comes back...
    world.line.swallow_answers()
    buyer_says(buyer, "第二条")
    expect(agent.page.locator("#transcript .msg-buyer .msg-text")).to_have_text(["第一条", "第二条"])
    expect(buyer.page.locator("#transcript .msg-pending")).to_have_count(1)
    # ...then the line drops: the page notices, and what is written meanwhile waits.
    world.line.cut()
    expect(indicator).to_have_attribute("data-state", "offline")
    expect(indicator).to_have_text("网络断开了，正在重新连接…")
    buyer_says(buyer, "第三条")
    agent_says(agent, "断线时客服的回复")
    expect(agent.page.locator("#transcript .msg-mine:not(.msg-pending)")).to_have_count(1)
    expect(buyer.page.locator("#transcript .msg-pending")).to_have_count(2)

    world.line.restore()
    expect(indicator).to_have_attribute("data-state", "online", timeout=20_000)
    # After the reconnect: the missed reply came by sync, the two unacknowledged sends went
    # again with their ids, and the one already stored was not stored twice.
    expect(buyer.page.locator("#transcript .msg-pending")).to_have_count(0)
    expected = ["第一条", "第二条", "第三条"]
    expect(agent.page.locator("#transcript .msg-buyer .msg-text")).to_have_text(expected)
    expect(buyer.page.locator("#transcript .msg-buyer .msg-text")).to_have_text(expected)
    expect(buyer.page.locator("#transcript .msg-agent .msg-text")).to_have_text(["断线时客服的回复"])
    seqs = buyer.page.locator("#transcript [data-seq]").evaluate_all(
        "nodes => nodes.map(n => Number(n.dataset.seq))"
    )
    assert seqs == sorted(set(seqs)) and len(seqs) == 4

    engine, scope = db_session(world)
    with scope as session:
        stored = session.scalars(
            select(Message.text).where(Message.conversation_id == conversation).order_by(Message.seq)
        ).all()
    engine.dispose()
    assert stored == ["第一条", "第二条", "断线时客服的回复", "第三条"]
    assert buyer.errors == [] and agent.errors == []


def test_a_message_stored_but_never_published_is_fetched_once_a_later_one_shows_it_missing(
    browser, contexts, world
):
    agent = open_desk(browser, contexts, world.url)
    buyer = open_buyer(browser, contexts, world.url)
    buyer_says(buyer, "请问有优惠券吗")
    conversation = conversation_of(buyer)
    open_conversation(agent, conversation)
    expect(agent.page.locator("#transcript .msg-buyer .msg-text")).to_have_text(["请问有优惠券吗"])

    # A reply stored by a server process that died before it told anyone: in the store, not sent.
    engine = writing(make_engine(world.db_url))
    now = datetime.now(UTC)
    reply = NewMessage(
        conversation, SHOP_ID, "agent", AGENT.agent_id, "有的，满199减20。", client_msg_id="r-lost"
    )
    with engine.connect() as conn:
        write_batch(conn, [reply], now, int(now.timestamp() * 1_000_000) * 1000)
    engine.dispose()
    agent.page.wait_for_timeout(500)
    expect(buyer.page.locator("#transcript .msg-agent")).to_have_count(0)

    # The next message comes after a seq neither page holds: both ask for what they missed.
    buyer_says(buyer, "怎么领？")
    expect(buyer.page.locator("#transcript .msg-agent .msg-text")).to_have_text(["有的，满199减20。"])
    expect(agent.page.locator("#transcript .msg-text")).to_have_text(
        ["请问有优惠券吗", "有的，满199减20。", "怎么领？"]
    )
    for page in (buyer.page, agent.page):
        seqs = page.locator("#transcript [data-seq]").evaluate_all(
            "nodes => nodes.map(n => Number(n.dataset.seq))"
        )
        assert seqs == [1, 2, 3]
    assert buyer.errors == [] and agent.errors == []


def test_a_buyers_script_shows_as_text_and_never_runs(browser, contexts, world):
    agent = open_desk(browser, contexts, world.url)
    buyer = open_buyer(browser, contexts, world.url)
    payloads = [
        '<img src=x onerror="window.__xss=1;alert(1)">',
        "<script>window.__xss=2;alert(2)</script>",
        '"><svg onload="window.__xss=3">',
    ]
    for payload in payloads:
        buyer_says(buyer, payload)
    conversation = conversation_of(buyer)
    open_conversation(agent, conversation)

    expect(agent.page.locator("#transcript .msg-buyer .msg-text")).to_have_text(payloads)
    expect(queue_item(agent, conversation).locator(".queue-preview")).to_have_text(payloads[-1])
    for page in (agent.page, buyer.page):
        assert page.locator("#transcript img, #transcript script, #transcript svg").count() == 0
        assert page.evaluate("window.__xss") is None
    assert agent.dialogs == [] and buyer.dialogs == []
    assert buyer.errors == [] and agent.errors == []


def test_the_buyer_rates_the_closed_conversation(browser, contexts, world):
    agent = open_desk(browser, contexts, world.url)
    buyer = open_buyer(browser, contexts, world.url)
    buyer_says(buyer, "好的，谢谢")
    conversation = conversation_of(buyer)
    open_conversation(agent, conversation)
    agent_says(agent, "不客气，祝您生活愉快！")

    rating = buyer.page.locator("#rating")
    expect(rating).to_be_hidden()
    agent.page.get_by_role("button", name="结束会话").click()
    expect(agent.page.locator("#conversation-status")).to_have_text("已结束")
    expect(agent.page.get_by_role("button", name="重新打开")).to_be_visible()

    expect(rating).to_be_visible()
    expect(rating.get_by_role("button")).to_have_text(["非常满意", "满意", "一般", "不满意", "非常不满意"])
    rating.get_by_role("button", name="非常满意").click()
    expect(buyer.page.locator("#rating-done")).to_have_text("感谢您的评价，祝您购物愉快！")
    expect(rating.get_by_role("button", name="非常满意")).to_have_attribute("aria-pressed", "true")

    engine, scope = db_session(world)
    with scope as session:
        stored = session.scalars(select(Rating).where(Rating.conversation_id == conversation)).one()
        invitation = session.scalars(
            select(RatingInvitation).where(RatingInvitation.conversation_id == conversation)
        ).one()
        assert (stored.score, stored.agent_id, stored.shop_id) == ("very_satisfied", AGENT.agent_id, SHOP_ID)
        assert invitation.rating_id == stored.id
    engine.dispose()
    assert buyer.errors == [] and agent.errors == []


def test_a_queue_list_that_set_off_before_the_close_does_not_reopen_it_on_screen(browser, contexts, world):
    agent = open_desk(browser, contexts, world.url)
    buyer = open_buyer(browser, contexts, world.url)
    # Queue lists are answered with what the store held when they were asked for, and handed to
    # the page only after the close: as a slow list on a busy server would be.
    held: list[tuple[Route, APIResponse]] = []
    holding = [True]

    def hold(route: Route) -> None:
        if holding[0]:
            held.append((route, route.fetch()))
        else:
            route.continue_()

    agent.page.route(lambda url: "/desk/conversations?queue=" in url, hold)
    buyer_says(buyer, "我的快递到哪了")
    conversation = conversation_of(buyer)
    open_conversation(agent, conversation)
    agent_says(agent, "已经在派送了，请您留意电话。")
    expect(agent.page.locator("#transcript")).to_contain_text("已经在派送了")
    for _ in range(50):  # the assignment's event sets off a list 300 ms later
        if held:
            break
        agent.page.wait_for_timeout(100)
    assert held, "the assignment should have set off a queue list"

    agent.page.get_by_role("button", name="结束会话").click()
    status = agent.page.locator("#conversation-status")
    expect(status).to_have_text("已结束")
    holding[0] = False
    for route, answer in held:
        route.fulfill(response=answer)
    agent.page.wait_for_timeout(500)  # the late lists are merged as soon as they arrive

    expect(status).to_have_text("已结束")
    expect(agent.page.get_by_role("button", name="重新打开")).to_be_visible()
    assert buyer.errors == [] and agent.errors == []


@pytest.fixture
def quiet_world(tmp_path) -> Iterator[DeskWorld]:
    """A desk of its own, so the README's pictures show none of the other tests' buyers."""
    yield from start_desk_world(tmp_path)


def test_screenshots_of_the_workbench_and_the_phone_chat(browser, contexts, quiet_world, screenshots):
    world = quiet_world
    agent = open_desk(browser, contexts, world.url)
    questions = ["M码还有货吗？身高165穿哪个码", "今天拍明天能发货吗", "衬衫洗了会缩水吗"]
    buyers = []
    for question in questions:
        buyer = open_buyer(browser, contexts, world.url)
        buyer_says(buyer, question)
        buyers.append((buyer, conversation_of(buyer)))
    buyer, conversation = buyers[0]
    open_conversation(agent, conversation)
    agent_says(agent, "您好，M码有现货的～")
    expect(buyer.page.locator("#transcript .msg-agent")).to_have_count(1)
    buyer_says(buyer, "好的，那我拍M码 😊")
    expect(agent.page.locator("#transcript .msg-buyer")).to_have_count(2)
    agent.page.locator("#note-text").fill("买家身高165，偏好宽松")
    agent.page.get_by_role("button", name="添加备注").click()
    expect(agent.page.locator("#notes .note")).to_have_count(1)
    agent.page.locator("#composer-text").fill("/sp4")
    expect(agent.page.locator("#canned-list [role=option]").first).to_be_visible()
    # Other buyers wait past the 2 s amber mark.
    expect(queue_item(agent, buyers[1][1])).to_have_attribute("data-wait", "amber", timeout=5_000)
    agent.page.screenshot(path=screenshots / "workbench.png")
    buyer.page.screenshot(path=screenshots / "chat.png")
    assert buyer.errors == [] and agent.errors == []

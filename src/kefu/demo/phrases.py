"""Chinese wording of the demo shops' chats by scenario step (the after-sale steps: aftersale_phrases)."""

from __future__ import annotations

import string

from kefu.demo.aftersale_phrases import AFTERSALE

# How to read the bank: a key names one step of a scenario ("stock.ask" is the buyer asking about stock).
# A key may have a per-category variant ("fit.ask.clothing"); the scripts ask for the plain key and the
# category one wins when it exists. Each value lists interchangeable wordings; "|" inside a wording
# splits it into several messages sent one after another (a buyer typing in bursts). Placeholders in
# braces are filled from the conversation's context (see CONTEXT_KEYS). Agents say 您 far more than 亲.

CONVERSATION: dict[str, tuple[str, ...]] = {
    # --- openers -------------------------------------------------------------------------------------
    "agent.greet": (
        "您好，我是{agent}，很高兴为您服务",
        "您好~我是客服{agent}，这就帮您看",
        "您好，欢迎光临{shop}，我是{agent}",
        "亲，您好，{agent}在线为您服务哦",
        "您好，让您久等了，我是{agent}",
        "您好呀，我是{agent}，马上为您解答",
    ),
    "bot.welcome": (
        "您好，欢迎光临{shop}！人工客服马上就来，您可以先把问题描述一下~",
        "【自动回复】这里是{shop}，客服正在赶来的路上，请稍候片刻",
        "欢迎来到{shop}～常见问题可以点下方菜单直接查看哦",
    ),
    "bot.peak": (
        "今天活动来咨询的朋友特别多，客服正在一个一个接待，请您稍等，不用重复发消息哦",
        "【大促提醒】现在排队的人比较多，大概要等几分钟，您的消息客服都能看到",
        "大促期间付款后按顺序出库，活动库存以下单页显示为准，客服稍后为您解答",
    ),
    "bot.offhours": (
        "客服在线时间是{hours}，现在暂时不在，您的留言上班后会第一时间回复",
        "【离线留言】您好，客服已经下班啦，明天上线后马上处理您的问题，祝您晚安",
        "抱歉现在是休息时间（{hours}），您先留言，客服看到后按顺序回复您",
    ),
    "system.entry_pre": (
        "买家从商品页进入",
        "买家从商品页进入，正在浏览：{product}",
        "买家从店铺首页进入",
        "买家从直播间进入",
        "买家从购物车进入",
    ),
    "system.entry_after": (
        "买家从订单页进入，订单尾号{order_tail}",
        "买家从订单详情进入",
        "买家从物流详情进入",
        "买家从售后页面进入",
    ),
    "system.transfer": (
        "会话已转接给 {to}",
        "{from} 将会话转接给了 {to}",
        "会话已由 {from} 转交 {to} 继续接待",
    ),
    # --- pre-sale topics -----------------------------------------------------------------------------
    "stock.ask": (
        "在吗|这款{product}{sku}还有货吗",
        "{sku}的还有吗？",
        "请问{product}{sku}有现货吗，比较急",
        "你好，{sku}这个还能拍吗，页面上写着库存紧张",
        "老板，{product}{sku}还有没有",
        "有{sku}的吗",
        "你好|想问下{sku}什么时候能发",
    ),
    "stock.yes": (
        "您好，{sku}目前有现货，今天下午五点前付款当天就能发出",
        "有的呢，{sku}仓库里还有一些，您放心拍",
        "您好，这款{sku}库存还够，下单后两天内给您发出",
        "帮您查了一下，{sku}还有货的，最近走得比较快，喜欢的话建议早点下单",
        "有货的！{product}{sku}是现货，不是预售，不用等",
        "稍等，我查一下库存|有的，{sku}还有货，您放心拍",
    ),
    "stock.no": (
        "非常抱歉，{sku}刚好断货了，预计{restock}天左右补上，您可以先加购，到货页面会提醒您",
        "您好，{sku}暂时没有了，{sku2}还有现货，要不要考虑一下？",
        "不好意思，{sku}这一批已经卖完了，工厂在加急补货，大概{restock}天后能到",
    ),
    "stock.alt": (
        "好吧，那我等等",
        "{sku2}和{sku}差别大吗",
        "行，到货了跟我说一声",
    ),
    "stock.alt_answer": (
        "好的，补货到了我这边也会留意，到时候给您发消息",
        "{sku2}和{sku}只是规格上的区别，品质是一样的，您按自己的需要选就好",
        "明白，您先收藏着，到货第一时间通知您",
    ),
    "fit.ask.clothing": (
        "身高{height}，体重{weight}斤，穿什么码",
        "请问{height}的个子，{weight}斤，选哪个码合适？",
        "我{weight}斤，{height}高，这款{product}会不会偏小",
        "帮我推荐下尺码|身高{height} 体重{weight}斤|喜欢宽松一点的",
        "{height}cm/{weight}斤，平时穿{size}，这件也拍{size}吗",
    ),
    "fit.answer.clothing": (
        "您好，按您的身高体重，建议拍{size}，穿着刚好不会紧",
        "根据您给的数据，{size}码比较合适，想要宽松效果可以再大一码",
        "这款是{fit}版型，您这个身材选{size}就好，不会偏小",
        "推荐您{size}码哦，详情页有尺码表，也可以拿平时穿的衣服对照一下",
        "可以的，这款尺码是标准的，平时穿{size}就拍{size}",
    ),
    "fit.worry.clothing": (
        "会不会偏小啊，我怕穿着紧",
        "洗了会缩水吗",
        "我肩膀比较宽，{size}够吗",
        "不合适能换吗",
    ),
    "fit.reassure.clothing": (
        "放心，这款版型偏宽松，{size}您穿起来会比较舒服",
        "这款下水前后尺寸变化很小，按推荐的码拍没问题的",
        "肩部做了落肩设计，一般肩宽的朋友穿{size}也不会勒",
        "收到如果不合身，7天内不影响二次销售都可以换码，还送了运费险",
    ),
    "fit.ask.cosmetics": (
        "我是{skin}，这个{product}能用吗",
        "敏感肌能用吗？之前用别家的脸会泛红",
        "{skin}用这个会不会闷痘",
        "孕妇可以用吗",
    ),
    "fit.answer.cosmetics": (
        "您好，这款{product}配方比较温和，{skin}一般都能用，第一次建议先在耳后试一下",
        "这款配方很温和，敏感肌的顾客反馈都挺好，第一次用建议先在耳后或下巴试一小块",
        "可以用的，{skin}的顾客反馈都挺好，质地清爽不厚重，用量不要太多，薄涂就行",
        "孕期的话建议先问一下医生，成分表在详情页最下面，您可以截图给医生看",
    ),
    "fit.worry.cosmetics": (
        "用了过敏怎么办",
        "是正品吗？专柜能查吗",
        "保质期到什么时候",
    ),
    "fit.reassure.cosmetics": (
        "如果用了有不舒服请先停用，联系我们处理，不会让您吃亏的",
        "我们是品牌授权店，每批货都有检测报告，支持到专柜验货",
        "现在发的是今年的新批次，保质期还有两年多，您放心",
    ),
    "fit.ask.electronics": (
        "我用的是{phone}，能兼容吗",
        "{phone}能用这个{product}吗",
        "支持快充吗？我手机是{phone}",
        "苹果和安卓都能连吗",
    ),
    "fit.answer.electronics": (
        "您好，{phone}是可以正常使用的，主流机型我们都测试过",
        "兼容的，{product}连{phone}很稳定，打开蓝牙就能配对",
        "支持的，{feature}，{phone}用起来没问题",
        "都可以的，苹果和安卓手机打开蓝牙就能连，主流机型我们都测试过",
    ),
    "fit.worry.electronics": (
        "保修多久？坏了怎么弄",
        "是全新的吗，不会是翻新的吧",
        "能开发票吗",
    ),
    "fit.reassure.electronics": (
        "全国联保一年，质量问题15天内直接换新，您放心",
        "都是原厂全新未拆封的，收到可以查序列号",
        "可以开电子发票，下单后在订单页申请，抬头写个人或者公司都行",
    ),
    "fit.ask.food": (
        "{product}辣不辣？家里有小朋友",
        "这个甜吗？我爸血糖有点高",
        "{product}是今年的新货吗",
        "老人能吃吗，硬不硬",
    ),
    "fit.answer.food": (
        "您好，{sku}口味偏{taste}，小朋友吃的话建议选原味",
        "甜度适中，不过血糖偏高的话建议少量吃，具体还是听医生的",
        "是的，这批是本月刚到的货，{feature}，口感很新鲜",
        "口感偏软，老人家也咬得动，吃不完记得封好口",
    ),
    "fit.worry.food": (
        "快递路上会不会压坏",
        "保质期多久",
        "现在天气热不热，会不会化",
    ),
    "fit.reassure.food": (
        "我们用纸箱加气泡袋打包，路上一般压不坏，万一破了拍照给我们就行",
        "生产日期印在包装背面，现在发的都是近一个月做的",
        "发货会放冰袋，这个季节也不热，到手不会有问题",
    ),
    "spec.ask.clothing": (
        "这件是什么面料的",
        "这个是纯棉吗？会起球吗",
        "厚不厚？现在这个天穿会冷吗",
        "会掉色吗",
    ),
    "spec.answer.clothing": (
        "您好，{product}的面料是{feature}，穿着挺舒服的",
        "{feature}，正常洗护不会起球，建议翻面冷水洗",
        "这款厚度适中，{feature}，这几天外面再套件外套就够了",
        "深色第一次洗可能会有一点浮色，是正常的，之后就不会了",
    ),
    "spec.ask.cosmetics": (
        "这个主要成分是什么",
        "{product}有什么功效呀",
        "和你家另外那款有什么区别",
        "含酒精和香精吗",
    ),
    "spec.answer.cosmetics": (
        "您好，{product}{feature}，成分表在详情页最后一张图",
        "{feature}，坚持用三四周效果会比较明显",
        "这款主打{feature}，另一款偏清爽保湿，您可以按自己的肤况选",
        "这款不含酒精和香精，孕妈妈和敏感肌都比较友好",
    ),
    "spec.ask.electronics": (
        "续航多久",
        "这个{product}用的什么芯片",
        "{sku}和其他配置差别大吗",
        "防水吗",
    ),
    "spec.answer.electronics": (
        "您好，{feature}，正常用一整天没问题",
        "用的是今年的主流芯片，{feature}，日常用很流畅",
        "{sku}这个配置日常用完全够了，玩大型游戏的话建议选高配",
        "支持日常防水防汗，不过不建议泡水或者戴着游泳",
    ),
    "spec.ask.food": (
        "有添加剂吗",
        "产地是哪里的",
        "一包有多少",
    ),
    "spec.answer.food": (
        "您好，{feature}，配料表在详情页第三张图",
        "我们是产地直发的，{feature}",
        "{sku}这个规格，一家三口大概能吃一周",
    ),
    "spec.more": (
        "好的明白了",
        "那买{sku}还是{sku2}好",
        "还有别的款式吗",
        "嗯嗯，那我再对比一下",
    ),
    "spec.more_answer": (
        "好的，还有其他疑问随时问我",
        "两个都不错，{sku}更受欢迎一些，回购的人也多",
        "其他款式在店铺首页都能看到，目前大部分都有货",
        "好的，您慢慢对比，有疑问随时问我",
    ),
    "ship.ask": (
        "发什么快递|到{city}要几天",
        "今天拍今天能发吗",
        "寄到{city}大概多久",
        "默认什么快递？能发{alt_courier}吗",
        "从哪里发货的",
    ),
    "ship.answer": (
        "您好，我们默认发{courier}，从{origin}发出，到{city}一般{days}天左右",
        "可以的，下午五点前付款当天发，到{city}正常{days}到{days2}天能收到",
        "{origin}仓发货，合作的是{courier}，{city}这边大概{days}天到",
        "默认{courier}哈，指定其他快递可以在下单时留言，我们尽量安排",
        "我们从{origin}仓发货，默认{courier}，到{city}一般{days}天",
    ),
    "ship.alt_ask": (
        "能发顺丰吗，急用",
        "可以指定{alt_courier}吗",
        "周末能送到吗",
    ),
    "ship.alt_answer": (
        "顺丰需要补{fee}元运费差价，您拍的时候在留言里备注，我们按备注发",
        "可以的，下单后留言备注{alt_courier}，仓库会按备注安排",
        "快递周末也正常派送，具体时间以快递小哥联系您为准",
    ),
    "bargain.ask": (
        "能便宜点吗",
        "老板，{price}有点贵啊，便宜点我就拍了",
        "别家才卖{low_price}，你家怎么这么贵",
        "买两件能打折吗",
        "有优惠券吗",
        "学生党，能少点不",
    ),
    "bargain.hold": (
        "您好，价格是公司统一定的，客服这边改不了价，还请您多包涵",
        "理解您的心情，{price}已经是活动价了，用料和做工您收到就能感受出来",
        "便宜的那些用料不一样哦，我们是{feature}，价格实在",
        "单件已经是活动价了，两件的话可以一起用店铺满减",
        "店铺券今天已经发完了，现在这个价格也是近期最低的",
        "理解的，不过现在已经是最低价了，真的很抱歉没办法再降",
    ),
    "bargain.push": (
        "就少十块，行不行",
        "我朋友也想买，便宜点我们一起拍",
        "那包邮吗",
        "唉，那再送点什么吧",
    ),
    "bargain.offer": (
        "这样吧，我给您申请一张{coupon}元的店铺券，领了下单就能抵扣",
        "两件一起拍可以用满减，相当于每件便宜{coupon}元，挺划算的",
        "已经是包邮的了，另外给您备注赠送{gift}",
        "价格确实改不了，不过我可以备注送您{gift}，您看行吗",
    ),
    "bargain.accept": (
        "好的，券领到了，我现在拍",
        "行，那我拍两件",
        "可以，赠品记得放哦",
        "那行吧，赠品别忘了",
    ),
    "bargain.leave": (
        "那我再考虑考虑",
        "算了，再看看吧",
        "太贵了，先不要了",
    ),
    "bargain.close_accept": (
        "好的，感谢理解，领券后付款会自动抵扣",
        "好的，两件一起付款满减会自动减掉，谢谢您",
        "谢谢您！赠品已经备注好了，付款后尽快安排发货",
        "好的，已经备注赠品了，感谢您的支持",
    ),
    "bargain.close_leave": (
        "好的，没关系，您可以先收藏，活动有变化我第一时间告诉您",
        "理解的，您慢慢看，有问题随时找我",
    ),
    "gift.ask": (
        "有赠品吗",
        "买两件送什么",
        "有没有礼品袋，想送人",
        "下单有小礼物吗",
    ),
    "gift.answer": (
        "您好，现在下单赠送{gift}，跟货一起发出，送完为止",
        "两件一起拍送{gift}，还能用满减",
        "可以的，我给您备注放一个礼品袋，送人很体面",
        "这款暂时没有赠品活动，不过可以领店铺券，相当于直接减{coupon}元",
    ),
    "buy.intent": (
        "好的，那我现在拍",
        "行，我拍了，今天能发吗",
        "那我下单了|麻烦尽快发货哈",
        "好，拍两件",
        "OK 就这个了",
    ),
    "buy.confirm": (
        "好的，感谢您的支持！付款后我们会尽快安排，发出后在订单里就能看到物流",
        "收到，谢谢您！下午五点前付款的订单当天都会发出",
        "好的，您下单后我这边给您备注优先发货",
        "谢谢您的信任，有任何问题随时联系我",
        "好的，谢谢您！|付款后我们尽快发出，有任何问题随时找我",
    ),
    "checkout.ordered": (
        "拍好了，帮我核对下地址",
        "已下单|地址没问题吧",
        "我拍了，你看下收货信息对不对",
    ),
    "checkout.confirm": (
        "好的，跟您核对一下收货信息：{address}，{masked_phone}，没问题的话就按这个地址发了",
        "收到，地址是{address}，请您确认一下",
    ),
    "checkout.ok": (
        "对的",
        "没问题",
        "对，就这个",
    ),
    "checkout.remark": (
        "好的，已经给您备注了，发货后会有物流短信提醒您",
        "收到，感谢支持，付款后我们尽快发货",
    ),
    # --- whole pre-sale scripts -----------------------------------------------------------------------
    "pay.fail": (
        "付款怎么一直失败",
        "花呗付不了是怎么回事",
        "提示银行卡限额，怎么办",
        "拍了付不了款|一直在转圈",
    ),
    "pay.help": (
        "您好，别着急，可能是支付通道临时繁忙，您刷新一下订单页再试试",
        "花呗额度不够或者这件商品不支持的话会付不了，可以换银行卡或者余额支付",
        "单笔限额是银行设置的，您可以换一张卡，或者用余额支付",
        "您试试退出重新登录，再从订单列表里找到这一单付款",
    ),
    "pay.ok": (
        "好了，付上了",
        "可以了，谢谢",
        "付好了|麻烦快点发",
    ),
    "pay.thanks": (
        "好的，已经看到您付款了，今天就给您安排发货",
        "谢谢您的耐心，付款成功了，我们尽快发出",
    ),
    "remind.pay": (
        "您好，看到您拍下了{product}还没付款，是遇到什么问题了吗？",
        "您好，我是{agent}，您拍的{product}{sku}库存已经帮您留着，付款后今天就能发出",
        "您好，订单还差付款这一步哦，活动价今天就结束了，别错过",
        "打扰了，您的订单还没支付，如果对尺码或者规格有疑问可以随时问我",
    ),
    "remind.reply_yes": (
        "刚刚有事，马上付",
        "好的，现在付",
        "忘了，这就付",
    ),
    "remind.reply_no": (
        "等发工资了再说吧",
        "不好意思，不想要了",
        "再想想",
    ),
    "remind.close_yes": (
        "好的，付款后我们尽快发出，谢谢您",
        "收到，祝您购物愉快",
    ),
    "remind.close_no": (
        "好的，没关系，没付款的订单会自动关闭，您不用管它",
        "理解的，有需要再来找我哦",
    ),
    "follow.browse": (
        "您好，看您在看{product}，有什么想了解的可以问我哦",
        "您好，我是{agent}，{product}今天有活动，下单送{gift}，有问题随时问我",
    ),
    "follow.reply": (
        "我就随便看看",
        "这个有{sku}吗",
        "好的谢谢",
    ),
    "follow.answer": (
        "好的，您慢慢看，有问题随时找我",
        "有的，{sku}现在有货，需要的话直接拍就行",
        "不客气，有问题随时找我",
    ),
    "human.ask": (
        "多久发货",
        "退货地址是什么",
        "能开发票吗",
        "这个怎么用",
    ),
    "human.bot_answer": (
        "【智能助手】本店订单付款后一般两天内发出，大促期间按付款先后发货",
        "【智能助手】您可以在订单详情页点申请售后，退货地址和流程都在里面",
        "【智能助手】本店可以开电子发票，下单后在订单页面申请即可",
        "【智能助手】猜您想问：发货时间、退换货、尺码推荐，请点下面对应的选项",
    ),
    "human.want": (
        "转人工",
        "人工客服",
        "我要找人工|机器人答非所问",
        "有真人吗",
    ),
    "human.greet": (
        "您好，我是{agent}，刚才的问题我来帮您解答",
        "您好，人工客服{agent}为您服务，让您久等了",
    ),
    "human.repeat": (
        "就是想问一下{product}多久能发",
        "我想知道{sku}有没有货",
        "我买的{product}怎么还没发",
    ),
    "human.answer": (
        "您好，{product}付款后一般24小时内发出，今天下单明天就能看到物流",
        "帮您查了，{sku}有货的，现在拍今天就能出库",
        "您好，我看了一下，仓库正在打包，今天之内会发出",
    ),
    # --- closings and tiny chats ---------------------------------------------------------------------
    "close.thanks": (
        "谢谢",
        "好的谢谢",
        "好嘞，谢谢啦",
        "明白了，辛苦了",
        "OK，谢谢客服",
    ),
    "close.bye": (
        "不客气，有问题随时找我，祝您生活愉快",
        "不客气哦，收到后满意的话欢迎给个好评，有任何问题随时联系我们",
        "应该的，感谢您的支持，祝您购物愉快",
        "好的，那先不打扰您了，有需要随时找{agent}",
        "不客气|收到后有任何问题随时联系我们，祝您生活愉快",
    ),
    "close.last": (
        "好的",
        "嗯嗯",
        "ok",
        "知道了",
        "好",
    ),
    "burst.ask": (
        "在吗",
        "问一下",
        "有人吗",
        "你好",
    ),
    "burst.answer": (
        "您好，在的，请问有什么可以帮您？",
        "您好，我在的，您请说",
    ),
    "burst.ok": (
        "好的",
        "没事了",
        "谢谢",
    ),
}
CONVERSATION.update(AFTERSALE)  # the after-sale steps live in their own module

# The refund reason a buyer picks follows what they said in the chat: key of what they said ->
# (reason when no hint matches, (words in the message, reason) ...).
REASON_HINTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "return.ask": (
        "七天无理由",
        (
            ("尺码", "尺码不合适"),
            ("有点大", "尺码不合适"),
            ("太紧", "尺码不合适"),
            ("买多了", "不想要了"),
            ("不喜欢", "七天无理由"),
        ),
    ),
    "quality.ask": ("质量问题", (("疹子", "使用后过敏"),)),
}

# What the agreed fix means for the money, per variant of the key: the kind of refund filed ("full",
# "unit" = one item's price, "part" = a compensation), or None when an exchange or a resend settles it.
REFUND_AFTER: dict[str, tuple[str | None, ...]] = {
    "wrong.ok": (None, "full", None),
    "missing.solution": (None, None, "unit"),
    "damaged.solution": ("part", None, "full"),
    "quality.solution": ("full", None, "full"),
    "complain.offer": ("full", "part"),
}

# An answer that must fit the question just asked uses the question's variant index (the lists line up).
PAIRED: dict[str, str] = {
    "stock.alt": "stock.no",
    "stock.alt_answer": "stock.alt",
    "fit.answer": "fit.ask",
    "fit.reassure": "fit.worry",
    "spec.answer": "spec.ask",
    "spec.more_answer": "spec.more",
    "ship.answer": "ship.ask",
    "ship.alt_answer": "ship.alt_ask",
    "bargain.offer": "bargain.push",
    "bargain.hold": "bargain.ask",
    "gift.answer": "gift.ask",
    "pay.help": "pay.fail",
    "follow.answer": "follow.reply",
    "human.bot_answer": "human.ask",
    "human.answer": "human.repeat",
    "missing.solution": "missing.ask",
    "bargain.accept": "bargain.offer",
    "bargain.close_accept": "bargain.accept",
}

# Every placeholder a wording may use; the generator fills all of them for each conversation.
CONTEXT_KEYS: tuple[str, ...] = (
    "shop",
    "agent",
    "product",
    "sku",
    "sku2",
    "price",
    "low_price",
    "city",
    "origin",
    "courier",
    "alt_courier",
    "days",
    "days2",
    "fee",
    "height",
    "weight",
    "size",
    "fit",
    "skin",
    "phone",
    "taste",
    "feature",
    "coupon",
    "gift",
    "restock",
    "address",
    "masked_phone",
    "order_tail",
    "tracking_tail",
    "hub",
    "stuck_days",
    "since",
    "qty",
    "qty_less",
    "refund_amount",
    "hours",
)

TRANSFER_KEYS: tuple[str, ...] = ("from", "to")

SKIN_TYPES = ("干皮", "油皮", "混油皮", "敏感肌", "混干皮")
PHONE_MODELS = ("苹果15", "华为Mate60", "小米14", "vivo X100", "OPPO Reno11", "荣耀90")
TASTES = ("微辣", "香甜", "咸香", "清淡")
FITS = ("宽松", "修身", "标准")


def placeholders(text: str) -> set[str]:
    """The placeholder names a wording uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}

"""The four demo shops: names, agents and the products and SKUs each one sells."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

CATEGORIES = ("clothing", "cosmetics", "electronics", "food")

# (candidate names, warehouse city, default courier, business hours) per category.
SHOP_STYLES: dict[str, tuple[tuple[str, ...], str, str, tuple[int, int]]] = {
    "clothing": (("素野服饰旗舰店", "暖屿衣橱", "棉里时光女装", "北纬穿搭工作室"), "杭州", "中通", (9, 23)),
    "cosmetics": (("青柠美妆小铺", "初见美妆", "白茶护肤研究所", "花漾颜究社"), "广州", "圆通", (9, 24)),
    "electronics": (("极客星球数码", "闪电数码专营店", "果核数码馆", "云帆电子"), "深圳", "顺丰", (9, 22)),
    "food": (("山野食记", "老街坊零食铺", "蜀香小厨特产店", "鲜果时光"), "成都", "韵达", (8, 22)),
}

# Share of the conversations each category's shop gets.
SHOP_SHARE = {"clothing": 0.32, "cosmetics": 0.26, "electronics": 0.22, "food": 0.20}

WELCOMES = (
    "您好，欢迎光临{name}！客服在线时间{hours}，有问题直接留言，我们会尽快回复您～",
    "欢迎来到{name}，我是店铺小助手，人工客服马上就来，您可以先说说想了解什么",
    "{name}欢迎您！下单前有任何疑问都可以问我们，祝您挑到心仪的宝贝",
)

GIFTS = {
    "clothing": ("一双棉袜", "衣物收纳袋", "一对防滑衣架"),
    "cosmetics": ("同系列小样三件", "一盒化妆棉", "旅行装洁面"),
    "electronics": ("一根快充数据线", "钢化贴膜", "收纳包"),
    "food": ("试吃小包", "手提礼袋", "一包独立装果干"),
}

NICKNAMES = (
    "小雅",
    "阿杰",
    "小鹿",
    "糖糖",
    "若溪",
    "木子",
    "小北",
    "阿宁",
    "七七",
    "安然",
    "小满",
    "橙子",
    "晓晓",
    "念念",
    "阿乐",
    "小舟",
    "清禾",
    "米粒",
    "豆豆",
    "小语",
    "知夏",
    "一一",
    "芒果",
    "阿青",
    "小航",
    "南风",
    "可可",
    "小鱼",
    "夏至",
    "星辰",
    "小暖",
    "初一",
    "阿泽",
    "柚子",
    "小川",
    "叮当",
)

# name, speed (seconds an ordinary reply takes: low, high), conversion multiplier
SPEEDS = {"fast": (5, 20), "normal": (10, 45), "slow": (30, 120)}
# How well pre-sale agents turn questions into orders (a multiplier on the base chance). Every shop has a
# star and a weak seller among them, so the per-agent conversion report has something to show.
STAR_SELLER, WEAK_SELLER = 2.0, 0.45
OTHER_SELLERS = (1.3, 1.0, 0.8, 1.1)


def _grid(colors: tuple[str, ...], sizes: tuple[str, ...], price: str) -> tuple[tuple[str, str], ...]:
    """Every colour/size combination of a garment at one price."""
    return tuple((f"{c}/{s}", price) for c in colors for s in sizes)


_LETTER = ("S", "M", "L", "XL", "XXL")

# (short name buyers use, listing title, selling point, SKUs as (label, price))
PRODUCTS: dict[str, tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...]] = {
    "clothing": (
        (
            "连帽卫衣",
            "2026秋冬新款加绒连帽卫衣男女同款宽松百搭情侣外套",
            "320克毛圈棉，里层加了薄绒",
            _grid(("黑色", "燕麦色", "雾霾蓝"), _LETTER, "129.00"),
        ),
        (
            "牛仔裤",
            "高腰直筒牛仔裤女显瘦小个子百搭阔腿拖地裤",
            "98%棉加2%氨纶，微弹不紧绷",
            _grid(("浅蓝", "深蓝", "黑色"), ("25", "26", "27", "28", "29", "30"), "149.00"),
        ),
        (
            "针织开衫",
            "羊毛混纺针织开衫女秋季V领温柔风毛衣外套",
            "含30%羊毛，手感软糯不扎",
            _grid(("米白", "焦糖色", "灰色"), ("S", "M", "L"), "239.00"),
        ),
        (
            "羽绒服",
            "90白鸭绒短款羽绒服女2026冬季新款面包服加厚",
            "90%白鸭绒，充绒量约180克",
            _grid(("黑色", "奶白", "雾粉"), ("S", "M", "L", "XL"), "599.00"),
        ),
        (
            "衬衫",
            "男士长袖衬衫商务休闲免烫纯棉白衬衣修身",
            "100%纯棉，做过免烫处理",
            _grid(("白色", "浅蓝", "条纹"), ("38", "39", "40", "41", "42", "43"), "169.00"),
        ),
        (
            "半身裙",
            "法式碎花半身裙女秋冬中长款A字伞裙高腰",
            "雪纺面料带内衬，不透",
            _grid(("碎花蓝", "碎花黑"), ("S", "M", "L"), "119.00"),
        ),
        (
            "冲锋衣",
            "三合一冲锋衣男女户外防风防水可拆卸抓绒内胆",
            "外层防泼水，内胆是可拆的抓绒",
            _grid(("黑色", "墨绿", "卡其"), ("M", "L", "XL", "XXL", "3XL"), "459.00"),
        ),
        (
            "休闲裤",
            "秋季加厚垂感休闲裤男宽松直筒百搭长裤",
            "涤棉混纺，垂感好不易皱",
            _grid(("黑色", "灰色", "藏青"), ("M", "L", "XL", "XXL"), "99.00"),
        ),
        (
            "打底衫",
            "德绒打底衫女秋冬半高领保暖内搭上衣",
            "德绒面料，贴身穿暖和不起静电",
            _grid(("黑色", "白色", "咖色", "酒红"), ("S", "M", "L", "XL"), "59.00"),
        ),
        (
            "羊毛大衣",
            "双面呢羊毛大衣女中长款2026新款茧型外套",
            "双面呢，羊毛含量70%",
            _grid(("驼色", "黑色", "燕麦色"), ("S", "M", "L"), "899.00"),
        ),
        (
            "运动套装",
            "运动套装女春秋季休闲卫衣两件套跑步服",
            "棉感面料，吸汗透气",
            _grid(("灰粉", "藏蓝"), ("S", "M", "L", "XL"), "199.00"),
        ),
        (
            "珊瑚绒睡衣",
            "珊瑚绒睡衣女冬季加厚家居服套装可外穿",
            "加厚珊瑚绒，柔软不掉毛",
            _grid(("粉色", "灰色", "浅紫"), ("M", "L", "XL"), "89.00"),
        ),
    ),
    "cosmetics": (
        (
            "精华液",
            "烟酰胺亮肤精华液淡化痘印提亮肤色保湿补水",
            "核心成分是5%烟酰胺和传明酸",
            (("30ml", "189.00"), ("50ml", "279.00"), ("30ml*2瓶", "349.00")),
        ),
        (
            "面霜",
            "玻色因紧致面霜抗皱淡纹保湿修护霜",
            "含玻色因和神经酰胺，主打修护",
            (("30g", "299.00"), ("50g", "429.00")),
        ),
        (
            "洗面奶",
            "氨基酸洗面奶温和清洁控油敏感肌男女可用",
            "氨基酸表活，洗完不紧绷",
            (("100g", "69.00"), ("150g", "89.00"), ("100g*2支", "125.00")),
        ),
        (
            "防晒霜",
            "清爽防晒霜SPF50+隔离紫外线面部户外军训",
            "SPF50+ PA++++，质地水感",
            (("40ml", "99.00"), ("60ml", "139.00")),
        ),
        (
            "口红",
            "丝绒哑光口红不易掉色显白黄皮友好",
            "丝绒哑光质地，持色四到六小时",
            (
                ("#01 正红", "129.00"),
                ("#03 豆沙", "129.00"),
                ("#07 枫叶棕", "129.00"),
                ("#12 奶茶色", "129.00"),
            ),
        ),
        (
            "卸妆油",
            "植物卸妆油温和深层清洁眼唇可用",
            "植物油配方，乳化快好冲洗",
            (("150ml", "89.00"), ("200ml", "109.00")),
        ),
        (
            "补水面膜",
            "玻尿酸补水面膜贴保湿舒缓熬夜急救",
            "三重玻尿酸，精华液很足",
            (("10片/盒", "79.00"), ("20片/盒", "139.00")),
        ),
        (
            "眼霜",
            "视黄醇眼霜淡化细纹黑眼圈紧致",
            "A醇加咖啡因，淡纹去浮肿",
            (("15g", "219.00"), ("20g", "269.00")),
        ),
        (
            "粉底液",
            "持妆粉底液控油遮瑕不脱妆混油皮",
            "轻薄持妆，控油八小时左右",
            (("#00 象牙白", "159.00"), ("#01 自然色", "159.00"), ("#02 小麦色", "159.00")),
        ),
        (
            "爽肤水",
            "高保湿化妆水舒缓修护湿敷水大瓶装",
            "含积雪草和泛醇，舒缓保湿",
            (("200ml", "119.00"), ("400ml", "189.00")),
        ),
        (
            "身体乳",
            "烟酰胺身体乳保湿滋润秋冬全身可用",
            "烟酰胺加乳木果油，不黏腻",
            (("250ml", "79.00"), ("400ml", "109.00")),
        ),
        (
            "淡香水",
            "淡香水女持久清新花果香调送女友",
            "前调柑橘，后调白麝香",
            (("30ml", "259.00"), ("50ml", "359.00"), ("100ml", "529.00")),
        ),
    ),
    "electronics": (
        (
            "蓝牙耳机",
            "真无线蓝牙耳机主动降噪入耳式超长续航",
            "主动降噪，单次听歌7小时",
            (("星空黑", "299.00"), ("月光白", "299.00")),
        ),
        (
            "充电宝",
            "20000毫安充电宝22.5W快充大容量移动电源",
            "支持22.5W快充，可上飞机",
            (("10000mAh 白色", "89.00"), ("20000mAh 黑色", "129.00")),
        ),
        (
            "手机",
            "5G智能手机 旗舰芯片 120Hz高刷 5000mAh大电池",
            "5000mAh电池，支持67W快充",
            (
                ("128G 午夜黑", "2499.00"),
                ("256G 午夜黑", "2799.00"),
                ("256G 冰川蓝", "2799.00"),
                ("512G 冰川蓝", "3199.00"),
            ),
        ),
        (
            "智能手表",
            "智能手表运动心率血氧监测NFC支付防水",
            "续航约10天，支持NFC刷公交",
            (("42mm 黑色", "599.00"), ("46mm 银色", "699.00")),
        ),
        (
            "机械键盘",
            "三模机械键盘 热插拔 RGB背光 办公游戏",
            "蓝牙、2.4G和有线三模连接",
            (("茶轴 白色", "329.00"), ("红轴 白色", "329.00"), ("青轴 黑色", "319.00")),
        ),
        (
            "无线鼠标",
            "静音无线鼠标 蓝牙双模 办公家用",
            "静音按键，一节电池用半年",
            (("黑色", "89.00"), ("粉色", "89.00"), ("白色", "89.00")),
        ),
        (
            "平板电脑",
            "11英寸平板电脑 2.5K护眼屏 学习办公网课",
            "2.5K屏，8000mAh电池",
            (("8+128G 灰色", "1699.00"), ("8+256G 灰色", "1999.00")),
        ),
        (
            "数据线",
            "Type-C快充数据线 100W 编织线 耐弯折",
            "100W快充，编织外皮耐折",
            (("1米", "29.00"), ("2米", "39.00"), ("1米*2根", "49.00")),
        ),
        (
            "蓝牙音箱",
            "便携蓝牙音箱 防水 户外 重低音 小钢炮",
            "IPX7防水，连续播放12小时",
            (("黑色", "199.00"), ("橙色", "199.00")),
        ),
        (
            "手机壳",
            "磁吸手机壳 防摔 透明 不发黄",
            "四角气囊防摔，支持磁吸充电",
            (("透明", "39.00"), ("磨砂黑", "39.00")),
        ),
        (
            "电动牙刷",
            "声波电动牙刷 成人 软毛 送刷头 长续航",
            "声波震动，充一次用一个月",
            (("白色 2刷头", "169.00"), ("粉色 4刷头", "189.00")),
        ),
        (
            "充电器",
            "65W氮化镓充电器 多口快充头 笔记本可用",
            "氮化镓，体积小发热低",
            (("65W 白色", "119.00"), ("100W 白色", "169.00")),
        ),
    ),
    "food": (
        (
            "每日坚果",
            "每日坚果混合果仁礼盒装 30包 办公室零食",
            "六种坚果果干，独立小袋装",
            (("750g 30袋", "99.00"), ("1050g 42袋 礼盒装", "139.00")),
        ),
        (
            "牛肉干",
            "内蒙古风干牛肉干 手撕 正宗 特产",
            "只用牛后腿肉，风干36小时",
            (("250g 原味", "89.00"), ("250g 香辣", "89.00"), ("500g 原味", "169.00")),
        ),
        (
            "红枣",
            "新疆若羌灰枣 特级 红枣 干货 煲汤",
            "产地直采，个大肉厚",
            (("500g", "39.00"), ("1kg", "69.00"), ("2.5kg 整箱", "149.00")),
        ),
        (
            "龙井茶",
            "明前龙井 2026新茶 绿茶 罐装 送礼",
            "今年明前采摘，豆香明显",
            (("100g 罐装", "168.00"), ("250g 礼盒", "388.00")),
        ),
        (
            "螺蛳粉",
            "柳州螺蛳粉 正宗 煮食 酸辣 袋装",
            "汤料包和酸笋分开装",
            (("3袋装", "49.00"), ("5袋装", "75.00"), ("10袋装", "139.00")),
        ),
        (
            "土蜂蜜",
            "土蜂蜜 农家自产 百花蜜 玻璃瓶装",
            "百花蜜，自然结晶",
            (("500g", "69.00"), ("1kg", "119.00")),
        ),
        (
            "香肠",
            "四川麻辣香肠 腊肠 农家自制 烟熏",
            "柴火烟熏，肥瘦三七开",
            (("500g 麻辣", "79.00"), ("500g 广味", "79.00")),
        ),
        (
            "苏打饼干",
            "无蔗糖苏打饼干 代餐 零食 整箱",
            "无蔗糖配方，独立包装",
            (("1kg 整箱", "35.00"), ("2kg 整箱", "62.00")),
        ),
        (
            "五常大米",
            "东北五常稻花香大米 新米 真空包装",
            "今年新米，真空包装",
            (("5kg", "79.00"), ("10kg", "149.00")),
        ),
        (
            "冻干咖啡",
            "冻干咖啡粉 速溶 黑咖啡 无糖 小罐装",
            "冷水三秒即溶，无糖",
            (("24颗", "59.00"), ("48颗", "109.00")),
        ),
        (
            "芒果干",
            "芒果干 果干蜜饯 休闲零食 小包装",
            "少糖烘干，果肉厚",
            (("200g", "29.00"), ("500g", "59.00")),
        ),
        (
            "五香瓜子",
            "五香瓜子 大颗粒 炒货 年货 袋装",
            "粒大饱满，现炒现发",
            (("500g", "25.00"), ("1kg", "45.00")),
        ),
    ),
}


@dataclass(slots=True)
class Sku:
    """One sellable variant of a product."""

    label: str
    price: Decimal
    stock: int


@dataclass(slots=True)
class Product:
    """A product a shop sells, with the short name buyers call it by."""

    product_id: str
    short: str
    title: str
    feature: str
    category: str
    skus: list[Sku]

    @property
    def price(self) -> Decimal:
        """The listing price: the cheapest SKU."""
        return min(s.price for s in self.skus)


@dataclass(slots=True)
class Agent:
    """A member of a shop's service team and how they work."""

    agent_id: str
    nickname: str
    role: str
    skill_group: str
    speed: tuple[int, int]
    conversion: float


@dataclass(slots=True)
class Shop:
    """A demo shop and everything it is made of."""

    index: int
    shop_id: str
    name: str
    category: str
    origin: str
    courier: str
    hours: tuple[int, int]
    welcome: str
    products: list[Product]
    product_weights: list[float]
    agents: list[Agent]
    presale: list[Agent] = field(default_factory=list)
    aftersale: list[Agent] = field(default_factory=list)

    @property
    def supervisor(self) -> Agent:
        """The shop's supervisor, who takes escalations."""
        return next(a for a in self.agents if a.role == "supervisor")

    @property
    def admin(self) -> Agent:
        """The shop's owner account."""
        return next(a for a in self.agents if a.role == "admin")

    @property
    def hours_text(self) -> str:
        """Business hours as shown to buyers, e.g. 09:00-23:00."""
        return f"{self.hours[0]:02d}:00-{self.hours[1]:02d}:00"


def build_shops(rng: random.Random) -> list[Shop]:
    """Four shops, one per category, with their teams and catalogues."""
    nicknames = rng.sample(NICKNAMES, len(NICKNAMES))
    shops: list[Shop] = []
    for index, category in enumerate(CATEGORIES):
        names, origin, courier, hours = SHOP_STYLES[category]
        shop_id = f"s{index + 1}"
        name = rng.choice(names)
        hours_text = f"{hours[0]:02d}:00-{hours[1]:02d}:00"
        welcome = rng.choice(WELCOMES).format(name=name, hours=hours_text)
        products = _build_products(rng, shop_id, category)
        # Popular products come first in the shuffled list and are asked about far more often.
        weights = [1.0 / (i + 1) ** 0.8 for i in range(len(products))]
        shop = Shop(index, shop_id, name, category, origin, courier, hours, welcome, products, weights, [])
        _staff(rng, shop, nicknames)
        shops.append(shop)
    return shops


def _build_products(rng: random.Random, shop_id: str, category: str) -> list[Product]:
    """The shop's catalogue in a seed-dependent order, with stock levels."""
    templates = list(PRODUCTS[category])
    rng.shuffle(templates)
    products = []
    for n, (short, title, feature, skus) in enumerate(templates, start=1):
        sku_rows = []
        for label, price in skus:
            # A few variants are sold out, which the stock questions then run into.
            stock = 0 if rng.random() < 0.08 else rng.randint(3, 400)
            sku_rows.append(Sku(label, Decimal(price), stock))
        products.append(Product(f"{shop_id}-p{n:02d}", short, title, feature, category, sku_rows))
    return products


def _staff(rng: random.Random, shop: Shop, nicknames: list[str]) -> None:
    """Give the shop an admin, a supervisor and 3-6 agents of differing speed and skill."""
    n_agents = rng.randint(3, 6)
    n_after = max(1, n_agents // 3)
    skills = [STAR_SELLER, WEAK_SELLER, *rng.sample(OTHER_SELLERS, n_agents - n_after - 2)]
    rng.shuffle(skills)
    skills += [1.0] * n_after
    # One slow agent per shop, the first one quick, the rest a mix; that spread is what the
    # response-time reports are meant to surface.
    speeds = ["fast"] + [rng.choice(("fast", "normal", "normal")) for _ in range(n_agents - 2)] + ["slow"]
    rng.shuffle(speeds)
    team: list[Agent] = []
    seq = 0

    def hire(role: str, group: str, speed: str, skill: float) -> Agent:
        nonlocal seq
        seq += 1
        agent = Agent(f"{shop.shop_id}-a{seq:02d}", nicknames.pop(), role, group, SPEEDS[speed], skill)
        team.append(agent)
        return agent

    hire("admin", "presale", "normal", 1.0)
    hire("supervisor", "aftersale", "fast", 1.1)
    for i in range(n_agents):
        group = "aftersale" if i >= n_agents - n_after else "presale"
        agent = hire("agent", group, speeds[i], skills[i])
        (shop.aftersale if group == "aftersale" else shop.presale).append(agent)
    shop.agents = team


def shop_rows(shops: list[Shop]) -> list[dict]:
    """Rows of the shops table."""
    return [
        {
            "shop_id": s.shop_id,
            "name": s.name,
            "category": s.category,
            "timezone": "Asia/Shanghai",
            "business_hours": s.hours_text,
            "welcome": s.welcome,
        }
        for s in shops
    ]


def agent_rows(shops: list[Shop]) -> list[dict]:
    """Rows of the agents table."""
    return [
        {
            "shop_id": s.shop_id,
            "agent_id": a.agent_id,
            "nickname": a.nickname,
            "role": a.role,
            "skill_group": a.skill_group,
        }
        for s in shops
        for a in s.agents
    ]


def product_rows(shops: list[Shop]) -> tuple[list[dict], list[dict]]:
    """Rows of the products and skus tables."""
    products, skus = [], []
    for s in shops:
        for p in s.products:
            products.append(
                {
                    "shop_id": s.shop_id,
                    "product_id": p.product_id,
                    "title": p.title,
                    "price": p.price,
                    "stock": sum(k.stock for k in p.skus),
                    "category": p.category,
                }
            )
            skus.extend(
                {"product_id": p.product_id, "sku": k.label, "price": k.price, "stock": k.stock}
                for k in p.skus
            )
    return products, skus

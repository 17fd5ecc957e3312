"""Buyers of the demo shops: nicknames, phones, cities and addresses."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from kefu.demo.draw import cumulative, pick


@dataclass(frozen=True, slots=True)
class City:
    """A city buyers live in, with its rough position (for delivery days) and its sorting hub."""

    province: str
    name: str
    districts: tuple[str, ...]
    lon: float
    lat: float
    hub: str

    @property
    def short(self) -> str:
        """The city name without 市, as people say it."""
        return self.name.removesuffix("市")


def _city(province: str, name: str, districts: str, lon: float, lat: float, hub: str) -> City:
    return City(province, name, tuple(districts.split()), lon, lat, hub)


# Buyers are drawn from these with the given weights (bigger, richer cities shop more online).
CITIES: tuple[tuple[City, int], ...] = (
    (_city("浙江省", "杭州市", "西湖区 拱墅区 滨江区 余杭区", 120.2, 30.3, "杭州转运中心"), 8),
    (_city("上海市", "上海市", "浦东新区 闵行区 徐汇区 静安区", 121.5, 31.2, "上海青浦转运中心"), 10),
    (_city("江苏省", "南京市", "鼓楼区 江宁区 玄武区", 118.8, 32.1, "南京转运中心"), 6),
    (_city("江苏省", "苏州市", "姑苏区 吴中区 相城区", 120.6, 31.3, "苏州转运中心"), 5),
    (_city("广东省", "广州市", "天河区 越秀区 番禺区 白云区", 113.3, 23.1, "广州白云转运中心"), 9),
    (_city("广东省", "深圳市", "南山区 福田区 龙岗区 宝安区", 114.1, 22.5, "深圳转运中心"), 8),
    (_city("北京市", "北京市", "朝阳区 海淀区 丰台区 通州区", 116.4, 39.9, "北京顺义转运中心"), 9),
    (_city("天津市", "天津市", "南开区 河西区 滨海新区", 117.2, 39.1, "天津转运中心"), 4),
    (_city("山东省", "济南市", "历下区 市中区 槐荫区", 117.0, 36.7, "济南转运中心"), 4),
    (_city("山东省", "青岛市", "市南区 崂山区 黄岛区", 120.4, 36.1, "青岛转运中心"), 4),
    (_city("河南省", "郑州市", "金水区 二七区 管城区", 113.6, 34.8, "郑州转运中心"), 5),
    (_city("湖北省", "武汉市", "武昌区 洪山区 江汉区", 114.3, 30.6, "武汉转运中心"), 6),
    (_city("湖南省", "长沙市", "岳麓区 雨花区 开福区", 112.9, 28.2, "长沙转运中心"), 5),
    (_city("四川省", "成都市", "武侯区 锦江区 金牛区 双流区", 104.1, 30.7, "成都转运中心"), 7),
    (_city("重庆市", "重庆市", "渝中区 江北区 南岸区", 106.5, 29.6, "重庆转运中心"), 5),
    (_city("陕西省", "西安市", "雁塔区 碑林区 未央区", 108.9, 34.3, "西安转运中心"), 4),
    (_city("福建省", "厦门市", "思明区 湖里区 集美区", 118.1, 24.5, "厦门转运中心"), 3),
    (_city("福建省", "福州市", "鼓楼区 仓山区 晋安区", 119.3, 26.1, "福州转运中心"), 3),
    (_city("安徽省", "合肥市", "蜀山区 包河区 庐阳区", 117.3, 31.8, "合肥转运中心"), 4),
    (_city("辽宁省", "沈阳市", "和平区 沈河区 浑南区", 123.4, 41.8, "沈阳转运中心"), 3),
    (_city("黑龙江省", "哈尔滨市", "南岗区 道里区 香坊区", 126.6, 45.8, "哈尔滨转运中心"), 2),
    (_city("云南省", "昆明市", "五华区 盘龙区 官渡区", 102.7, 25.0, "昆明转运中心"), 2),
    (_city("广西壮族自治区", "南宁市", "青秀区 西乡塘区 兴宁区", 108.4, 22.8, "南宁转运中心"), 2),
    (_city("甘肃省", "兰州市", "城关区 七里河区", 103.8, 36.1, "兰州转运中心"), 1),
    (_city("新疆维吾尔自治区", "乌鲁木齐市", "天山区 沙依巴克区 新市区", 87.6, 43.8, "乌鲁木齐转运中心"), 1),
)

CITY_BY_SHORT: dict[str, City] = {c.short: c for c, _ in CITIES}

STREETS = (
    "文三路",
    "解放路",
    "人民路",
    "中山路",
    "建设路",
    "长江路",
    "和平街",
    "学府路",
    "幸福路",
    "光明路",
    "朝阳路",
    "新华路",
    "滨江大道",
    "科技园路",
    "东风路",
    "青年路",
    "体育路",
    "花园路",
    "工业大道",
    "南湖路",
)
ESTATES = (
    "阳光花园",
    "锦绣家园",
    "翠苑小区",
    "金色港湾",
    "书香门第",
    "幸福里",
    "桂花园",
    "江南名府",
    "云栖公寓",
    "东湖新村",
    "时代广场",
    "绿洲小区",
)

_NICK_ADJ = ("快乐的", "安静的", "会飞的", "努力的", "迷糊的", "胖胖的", "爱笑的", "不吃香菜的", "晒太阳的")
_NICK_NOUN = ("小猫", "胖子", "鱼", "兔子", "土豆", "柠檬", "星星", "蘑菇", "西瓜", "小熊", "橘子", "企鹅")
_NICK_LATIN = (
    "xiaoyu",
    "momo",
    "sunny",
    "lucky",
    "amy",
    "jiajia",
    "tongtong",
    "lele",
    "coco",
    "dada",
    "kiki",
)

BUYER_TAGS = {
    "clothing": ("大码", "学生党", "爱砍价", "送礼需求", "偏爱宽松"),
    "cosmetics": ("敏感肌", "学生党", "爱砍价", "送礼需求", "囤货党"),
    "electronics": ("数码发烧友", "爱砍价", "送礼需求", "企业采购"),
    "food": ("吃货", "送礼需求", "爱砍价", "家庭采购", "囤货党"),
}


@dataclass(slots=True)
class Buyer:
    """A shopper: who they are, where they live, which shops they use and how often."""

    buyer_id: str
    nickname: str
    phone: str
    city: City
    address: str
    shops: list[int]
    weight: float
    risk_flag: str | None = None
    rating_robot: bool = False
    extra_tags: dict[int, str] = field(default_factory=dict)

    @property
    def masked_phone(self) -> str:
        """The phone as an agent reads it back: 138****1234."""
        return f"{self.phone[:3]}****{self.phone[-4:]}"


def nickname(rng: random.Random) -> str:
    """A Taobao-style account nickname."""
    r = rng.random()
    if r < 0.3:
        return f"tb{rng.randrange(10**9, 10**10)}"
    if r < 0.6:
        tail = str(rng.randint(1, 999)) if rng.random() < 0.4 else ""
        return rng.choice(_NICK_ADJ) + rng.choice(_NICK_NOUN) + tail
    if r < 0.85:
        tail = rng.choice(("1996", "520", "88", "2008", "666", str(rng.randint(10, 99))))
        return f"{rng.choice(_NICK_LATIN)}_{tail}"
    return f"t_{rng.randrange(10**12, 10**13)}"


def phone(rng: random.Random) -> str:
    """A made-up 11-digit mobile number starting 13x."""
    return f"13{rng.randrange(10)}{rng.randrange(10**8):08d}"


def address(rng: random.Random, city: City) -> str:
    """A made-up street address in the city, e.g. 浙江省杭州市西湖区文三路88号."""
    head = city.name if city.province == city.name else city.province + city.name
    text = f"{head}{rng.choice(city.districts)}{rng.choice(STREETS)}{rng.randint(1, 899)}号"
    if rng.random() < 0.6:
        room = f"{rng.randint(1, 33)}0{rng.randint(1, 6)}"
        text += f"{rng.choice(ESTATES)}{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{room}室"
    return text


def delivery_days(origin: City, dest: City) -> int:
    """Usual days a parcel takes between two cities (1 within a city, up to 6 across the country)."""
    dx = (origin.lon - dest.lon) * math.cos(math.radians((origin.lat + dest.lat) / 2)) * 111
    dy = (origin.lat - dest.lat) * 111
    return min(6, 1 + int(math.hypot(dx, dy) / 700))


def build_buyers(rng: random.Random, count: int, shop_shares: list[float]) -> list[Buyer]:
    """The buyer population: most shop at one shop, a few at two, a few return often, a few are flagged."""
    cities = [c for c, _ in CITIES]
    city_cum = cumulative([w for _, w in CITIES])
    shop_cum = cumulative(shop_shares)
    buyers = []
    for n in range(1, count + 1):
        city = cities[pick(rng, city_cum)]
        home = pick(rng, shop_cum)
        shops = [home]
        # Heavy-tailed loyalty: most buyers come once or twice, some are regulars.
        r = rng.random()
        weight = 1.0 if r < 0.7 else 3.0 if r < 0.93 else 9.0
        if rng.random() < 0.06:
            # Keen online shoppers who also buy from a second of the four shops.
            shops.append((home + rng.randint(1, len(shop_shares) - 1)) % len(shop_shares))
            weight = max(weight, 3.0)
        buyers.append(Buyer(f"b{n:06d}", nickname(rng), phone(rng), city, address(rng, city), shops, weight))
    _flag(rng, buyers)
    return buyers


def _flag(rng: random.Random, buyers: list[Buyer]) -> None:
    """Mark a few accounts as known fake raters; the first of them rates through a bot."""
    n = max(3, len(buyers) // 150)
    for i, b in enumerate(rng.sample(buyers, min(n, len(buyers)))):
        b.risk_flag = "fake_reviews"
        b.rating_robot = i == 0
        b.weight = 3.0

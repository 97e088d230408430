"""Deterministic demo data: customer accounts and their 2020 bills, as the marketing system's CSV.

Everything here is pure (no database, no clock): the same ``seed`` and account count give the same
CSV text, byte for byte. Each account draws from its own ``random.Random`` seeded by (seed, index),
so the first N accounts of a larger run are the same as a run of N. Money is Decimal throughout,
every line rounded once to the fen with ROUND_HALF_UP; the rates are the demo tariffs of
``billing.reference.DEMO_TARIFFS`` (示例数据，非官方电价).

``manage.py load_demo`` feeds the CSV text to the real import services (interfaces.md §1).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from . import engine
from .imports import BILL_COLUMNS, CUSTOMER_COLUMNS
from .models import BasicChargeMethod, Category, EnterpriseSize, PriorityRole, TariffComponent
from .reference import demo_rate

DEFAULT_SEED = 2020
DEFAULT_ACCOUNTS = 5000
# Same names and order as organisation/migrations/0002_districts.py; load_demo passes the database's list.
DEFAULT_DISTRICTS = ("道里", "南岗", "道外", "香坊", "平房", "松北", "呼兰", "阿城", "双城")
PERIODS = tuple(dt.date(2020, month, 1) for month in range(1, 13))

FEN = Decimal("0.01")
LATE_FEE_PER_DAY = Decimal("0.002")  # 违约金 2‰ a day on the overdue amount (non-residential rule)

# The demo bills are computed with the engine's own M4 arithmetic: one rule, one implementation.
money = engine.round_fen


def billed_demand(*, contract_kw: Decimal | int, capacity_kva: Decimal | int) -> Decimal:
    """max(contract demand, 40% of the transformer kVA in service) — programme.md M4."""
    return engine.billed_demand(contract_demand_kw=contract_kw, capacity_kva=capacity_kva)


def demand_basic_charge(
    *,
    contract_kw: Decimal | int,
    capacity_kva: Decimal | int,
    actual_kw: Decimal | int,
    rate: Decimal,
    double_excess: bool = True,
) -> Decimal:
    """Demand-basis basic charge of one month (programme.md M4), as billed without relief by default."""
    return engine.demand_basic_charge(
        contract_demand_kw=contract_kw,
        capacity_kva=capacity_kva,
        max_demand_kw=actual_kw,
        rate=rate,
        demand_relief=not double_excess,
    )


def _fmt_decimal(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    text = f"{Decimal(value).normalize():f}"
    return "0" if text in ("-0", "0") else text


def _fmt_money(value: Decimal) -> str:
    return f"{money(value):.2f}"


@dataclass(frozen=True)
class DemoAccount:
    account_no: str
    name: str
    district: str
    category: str
    industry_code: str
    voltage_kv: Decimal
    basic_charge_method: str
    capacity_kva: int
    contract_demand_kw: int | None
    enterprise_size: str
    priority_role: str

    def csv_row(self) -> list[str]:
        return [
            self.account_no,
            self.name,
            self.district,
            self.category,
            self.industry_code,
            _fmt_decimal(self.voltage_kv),
            self.basic_charge_method,
            str(self.capacity_kva),
            "" if self.contract_demand_kw is None else str(self.contract_demand_kw),
            self.enterprise_size,
            self.priority_role,
        ]


@dataclass(frozen=True)
class DemoBill:
    account_no: str
    period: dt.date
    energy_kwh: int
    energy_charge: Decimal
    basic_rate: Decimal | None
    max_demand_kw: int | None
    basic_charge: Decimal
    power_factor_rate: Decimal
    power_factor_charge: Decimal
    late_fee: Decimal
    paid: Decimal

    @property
    def period_label(self) -> str:
        return f"{self.period.year:04d}-{self.period.month:02d}"

    @property
    def gross(self) -> Decimal:
        return self.energy_charge + self.basic_charge + self.power_factor_charge + self.late_fee

    def csv_row(self) -> list[str]:
        return [
            self.account_no,
            self.period_label,
            str(self.energy_kwh),
            _fmt_money(self.energy_charge),
            _fmt_decimal(self.basic_rate),
            "" if self.max_demand_kw is None else str(self.max_demand_kw),
            _fmt_money(self.basic_charge),
            _fmt_decimal(self.power_factor_rate),
            _fmt_money(self.power_factor_charge),
            _fmt_money(self.late_fee),
            _fmt_money(self.paid),
        ]


@dataclass
class DemoData:
    seed: int
    accounts: list[DemoAccount] = field(default_factory=list)
    bills: list[DemoBill] = field(default_factory=list)

    def customers_csv(self) -> str:
        return _to_csv(CUSTOMER_COLUMNS, (a.csv_row() for a in self.accounts))

    def bills_csv(self) -> str:
        return _to_csv(BILL_COLUMNS, (b.csv_row() for b in self.bills))


def _to_csv(header: Sequence[str], rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


# --- vocabulary ---------------------------------------------------------------------------------

G, L, R, A = (
    Category.GENERAL_COMMERCIAL.value,
    Category.LARGE_INDUSTRIAL.value,
    Category.RESIDENTIAL.value,
    Category.AGRICULTURAL.value,
)
# Category of account i is _CYCLE[i % 50]: 56% 一般工商业, 20% 大工业, 20% residential, 4% agricultural.
# Any run of 50 accounts has every category and every priority role.
_TEN_WITH_FARM = (G, L, G, R, G, G, L, R, G, A)
_TEN = (G, L, G, R, G, G, L, R, G, G)
_CYCLE = _TEN_WITH_FARM + _TEN + _TEN_WITH_FARM + _TEN + _TEN
_CYCLE_ROLES = {
    2: PriorityRole.HOSPITAL.value,
    14: PriorityRole.PREVENTION_POINT.value,
    22: PriorityRole.PREVENTION_POINT.value,
    31: PriorityRole.SUPPLIES_MAKER.value,  # a 大工业 slot
    40: PriorityRole.SUPPLIES_MAKER.value,
}

# (GB/T 4754-2017 class, trade word for the name). High-energy lists are divisions 25/26/30/31/32/44.
GC_INDUSTRIES = (
    ("5211", "百货"), ("5212", "超市"), ("5213", "便利店"), ("5221", "粮油"), ("5223", "果蔬"),
    ("5232", "服装"), ("5261", "汽车销售服务"), ("5265", "石油销售"), ("5123", "农产品批发"),
    ("5174", "五金"), ("5176", "电脑科技"), ("5126", "保健品"), ("6110", "大酒店"), ("6121", "宾馆"),
    ("6210", "饭店"), ("6220", "餐饮管理"), ("6291", "小吃店"), ("7020", "物业管理"), ("7010", "房地产开发"),
    ("7211", "企业管理"), ("7224", "供应链管理"), ("8040", "美容美发"), ("8051", "洗浴"),
    ("8111", "汽车维修"), ("8310", "教育咨询"), ("8391", "职业技能培训"), ("6513", "软件"),
    ("6531", "信息技术"), ("5920", "仓储"), ("5930", "冷链物流"), ("5437", "物流"), ("1392", "豆制品"),
    ("1431", "食品"), ("1411", "食品"), ("2231", "包装制品"), ("3311", "钢结构"), ("3484", "机械加工"),
    ("2927", "塑料制品"), ("1830", "服饰"), ("8930", "健身"), ("5251", "大药房"), ("8810", "文化传媒"),
)  # fmt: skip
GC_HIGH_ENERGY = (
    ("4430", "供热"), ("3021", "水泥制品"), ("3031", "新型墙材"), ("2641", "涂料"), ("2682", "日化"),
    ("3130", "钢材加工"), ("2524", "煤制品"), ("3099", "石材"),
)  # fmt: skip
LI_INDUSTRIES = (
    ("1313", "粮食加工"), ("1441", "乳业"), ("1513", "啤酒"), ("1512", "酒业"), ("1353", "肉类食品"),
    ("2221", "纸业"), ("2720", "制药"), ("2710", "药业"), ("2761", "生物制药"), ("2911", "轮胎"),
    ("2922", "塑业"), ("3391", "铸造"), ("3411", "锅炉"), ("3413", "汽轮机"), ("3421", "机床"),
    ("3451", "轴承"), ("3511", "矿山机械"), ("3670", "汽车零部件"), ("3611", "汽车"), ("3741", "飞机工业"),
    ("3811", "电机"), ("3821", "变压器"), ("3831", "电缆"), ("3973", "微电子"), ("4011", "自动化仪表"),
    ("6550", "云计算数据"), ("5930", "冷链物流"), ("1331", "油脂"),
)  # fmt: skip
LI_HIGH_ENERGY = (
    ("2511", "石化"), ("2521", "焦化"), ("2611", "化工"), ("2614", "化工"), ("2621", "化肥"),
    ("2651", "合成材料"), ("3011", "水泥"), ("3041", "玻璃"), ("3091", "碳素"), ("3110", "钢铁"),
    ("3120", "特钢"), ("3130", "钢材"), ("3140", "铁合金"), ("3216", "铝业"), ("3251", "铜材"),
    ("3252", "铝材"), ("4411", "热电"), ("4412", "热电"), ("4430", "热力"),
)  # fmt: skip
AGR_INDUSTRIES = (
    ("0111", "水稻种植"), ("0113", "玉米种植"), ("0141", "蔬菜种植"), ("0142", "食用菌"), ("0313", "生猪养殖"),
    ("0311", "奶牛养殖"), ("0321", "蛋鸡养殖"), ("0412", "水产养殖"), ("0513", "农田灌溉"),
)  # fmt: skip
HOSPITAL_INDUSTRIES = (("8411", "医院"), ("8412", "中医医院"), ("8415", "骨伤医院"), ("8413", "中西医结合医院"))
SUPPLIES_INDUSTRIES = (
    ("2770", "医疗用品"), ("1781", "无纺布制品"), ("3584", "医疗器械"), ("2915", "医用橡胶制品"),
    ("2669", "消毒用品"),  # division 26: a supplies maker that is still high-energy (not discounted)
)  # fmt: skip
INDUSTRY_CODES_USED = frozenset(
    code
    for table in (
        GC_INDUSTRIES,
        GC_HIGH_ENERGY,
        LI_INDUSTRIES,
        LI_HIGH_ENERGY,
        AGR_INDUSTRIES,
        HOSPITAL_INDUSTRIES,
        SUPPLIES_INDUSTRIES,
    )
    for code, _ in table
) | {"8421", "8431", "9610"}

BRANDS = (
    "鑫达", "宏远", "北方", "龙江", "冰城", "金桥", "华宇", "东升", "恒泰", "瑞丰", "永安", "天元", "兴隆", "昌盛",
    "嘉禾", "福源", "中盛", "博远", "松江", "雪峰", "万通", "润泽", "安泰", "德信", "新锐", "鼎盛", "佳美", "富华",
    "长青", "远航", "明珠", "奥宇", "哈北", "龙信", "晟达", "伟业", "北辰", "广源", "冰雪", "江北", "阳光", "惠民",
    "百川", "众诚", "益康", "康泰", "华晟", "金龙", "银河", "启航", "腾飞", "信达", "源丰", "盛世", "黑土", "北国",
    "三江", "太阳岛", "索菲亚", "中央", "亚布力", "丁香", "松花江", "龙运", "哈达", "金谷", "丰泽", "禾润", "利民",
    "双旗", "红旗", "东北", "关东", "寒地",
)  # fmt: skip
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴"
    "夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文关佟于那"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚华红玉兰建国志文斌宇浩凯鹏飞俊峰晨阳欣怡思雨博涵梓轩佳琪子萱"
    "春梅海燕淑珍桂芝凤秀云德福喜庆长立新永忠宏亮丹雪冰松岩"
)
STREETS = (
    "中央大街", "红军街", "果戈里", "花园", "和兴路", "哈西", "学府路", "保健路", "新阳路", "群力", "安静", "工程",
    "靖宇", "太平", "崇俭", "化工", "文化", "友谊路", "松浦", "利民", "兰河", "康安", "新华", "通达", "永和",
)  # fmt: skip
COMPANY_SUFFIXES = ("有限公司", "有限公司", "有限公司", "有限责任公司")
HARBIN_CAPACITIES_10KV = (315, 400, 500, 630, 800, 1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000)
HARBIN_CAPACITIES_35KV = (2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500, 16000, 20000)
HARBIN_CAPACITIES_110KV = (10000, 12500, 16000, 20000)
SMALL_CAPACITIES = (100, 125, 160, 200, 250, 315, 400, 500, 630, 800)
PF_RATES = tuple(
    Decimal(r)
    for r in ("-0.0075", "-0.0060", "-0.0045", "-0.0030", "-0.0015", "0", "0", "0", "0.0050", "0.0100", "0.0200")
)

# Monthly profiles (January … December), in thousandths. Feb–Mar 2020: lockdown dip for business.
SEASON_RESIDENTIAL = (1250, 1320, 1100, 950, 900, 950, 1100, 1100, 900, 950, 1100, 1250)
SEASON_COMMERCIAL = (1100, 550, 750, 900, 950, 1050, 1150, 1150, 1000, 950, 1000, 1100)
SEASON_INDUSTRIAL = (1000, 600, 800, 950, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000)
SEASON_AGRICULTURAL = (500, 500, 600, 1000, 1600, 1900, 1900, 1600, 1200, 900, 600, 500)
SEASON_HEATING = (1600, 1600, 1400, 1000, 300, 300, 300, 300, 300, 900, 1500, 1600)  # heating season Oct–Apr
SEASON_PRIORITY = (1000, 1150, 1150, 1050, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000)
SEASON_SUPPLIES = (1000, 1500, 1600, 1400, 1100, 1000, 1000, 1000, 1000, 1000, 1000, 1000)
THOUSAND = Decimal(1000)
# Monthly kWh of a business without its own transformer, by enterprise size.
LOW_VOLTAGE_KWH = {
    EnterpriseSize.MICRO.value: (300, 3000),
    EnterpriseSize.SMALL.value: (2000, 15000),
    EnterpriseSize.MEDIUM.value: (10000, 50000),
    EnterpriseSize.LARGE.value: (30000, 100000),
}


# --- generation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Profile:
    """What shapes an account's bills, beyond its CSV row (not exported)."""

    base_kwh: int
    season: tuple[int, ...]
    pf_index: int | None  # index into PF_RATES; None: no power-factor adjustment
    payer: str  # "full", "partial", "arrears"
    arrears_from: int  # month (1–12) from which an "arrears" payer stops paying in full
    late_payer: bool


def _pick(rng: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


def _person(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.randint(1, 100) <= 70 else "")
    return rng.choice(SURNAMES) + given


# Trades that a micro business runs as a shop (个体工商户) rather than as a company.
SHOP_TRADES = frozenset(
    {"超市", "便利店", "粮油", "果蔬", "服装", "饭店", "小吃店", "美容美发", "洗浴", "大药房", "五金"}
)


def _company(rng: random.Random, district: str, trade: str, size: str) -> str:
    if size == EnterpriseSize.MICRO and trade in SHOP_TRADES and rng.randint(1, 3) > 1:
        return f"{district}区{rng.choice(STREETS)}{rng.choice(BRANDS)}{trade}"
    trade = {"小吃店": "餐饮", "便利店": "便利连锁", "大药房": "医药连锁"}.get(trade, trade)
    prefix = _pick(rng, [(f"哈尔滨市{district}区", 5), ("哈尔滨", 3), ("哈尔滨市", 1), ("黑龙江省", 1)])
    suffix = "股份有限公司" if size == EnterpriseSize.LARGE and rng.randint(1, 3) == 1 else rng.choice(COMPANY_SUFFIXES)
    return f"{prefix}{rng.choice(BRANDS)}{trade}{suffix}"


def _capacity_kwh(rng: random.Random, capacity_kva: int) -> int:
    """A month's kWh for a transformer: kVA × 0.85 × load factor (15–55%) × 720 h."""
    load_factor = Decimal(rng.randint(150, 550)) / THOUSAND
    return int((Decimal(capacity_kva) * Decimal("0.85") * load_factor * 720).to_integral_value(ROUND_HALF_UP))


def _payer(rng: random.Random) -> tuple[str, int, bool]:
    payer = _pick(rng, [("full", 88), ("partial", 5), ("arrears", 7)])
    return payer, rng.randint(2, 9), rng.randint(1, 100) <= 8


def _make_account(index: int, seed: int, district_no: int, district: str) -> tuple[DemoAccount, _Profile]:
    rng = random.Random(f"relief-demo:{seed}:{index}")  # noqa: S311 - demo data, not security
    slot = index % len(_CYCLE)
    category = _CYCLE[slot]
    role = _CYCLE_ROLES.get(slot, "")
    account_no = f"{4500000000 + district_no * 10_000_000 + index + 1:010d}"
    payer, arrears_from, late_payer = _payer(rng)

    industry, trade, size, method = "", "", "", ""
    voltage, capacity, contract = Decimal("0.4"), 0, None
    pf_index: int | None = None
    season = SEASON_COMMERCIAL

    if category == R:
        name = _person(rng)
        base_kwh = rng.randint(60, 450)
        season = SEASON_RESIDENTIAL
    elif category == A:
        industry, trade = rng.choice(AGR_INDUSTRIES)
        size = _pick(rng, [(EnterpriseSize.SMALL.value, 4), (EnterpriseSize.MICRO.value, 5), ("", 1)])
        kind = _pick(rng, [("专业合作社", 5), ("家庭农场", 3), ("有限公司", 2)])
        name = f"哈尔滨市{district}区{rng.choice(BRANDS)}{trade}{kind}"
        if rng.randint(1, 100) <= 30:
            voltage, capacity = Decimal("10"), rng.choice(SMALL_CAPACITIES[:5])
        base_kwh = rng.randint(500, 20000)
        season = SEASON_AGRICULTURAL
    elif category == L:
        if role == PriorityRole.SUPPLIES_MAKER:
            industry, trade = rng.choice(SUPPLIES_INDUSTRIES)
        elif rng.randint(1, 100) <= 30:
            industry, trade = rng.choice(LI_HIGH_ENERGY)
        else:
            industry, trade = rng.choice(LI_INDUSTRIES)
        size = _pick(
            rng, [(EnterpriseSize.LARGE.value, 35), (EnterpriseSize.MEDIUM.value, 45), (EnterpriseSize.SMALL.value, 20)]
        )
        voltage = Decimal(_pick(rng, [("10", 65), ("35", 15), ("66", 8), ("110", 9), ("220", 3)]))
        if voltage < 35:
            capacity = rng.choice(HARBIN_CAPACITIES_10KV)
        elif voltage < 110:
            capacity = rng.choice(HARBIN_CAPACITIES_35KV)
        else:
            capacity = rng.choice(HARBIN_CAPACITIES_110KV)
        if rng.randint(1, 100) <= 40:
            method = BasicChargeMethod.DEMAND.value
            share = Decimal(rng.randint(40, 90)) / 100
            contract = int((Decimal(capacity) * share).to_integral_value(ROUND_HALF_UP))
        else:
            method = BasicChargeMethod.CAPACITY.value
        name = _company(rng, district, trade, size)
        base_kwh = _capacity_kwh(rng, capacity)
        pf_index = rng.randrange(len(PF_RATES))
        season = SEASON_SUPPLIES if role else SEASON_INDUSTRIAL
    else:  # 一般工商业及其它
        if role == PriorityRole.HOSPITAL:
            industry, trade = rng.choice(HOSPITAL_INDUSTRIES)
            size = _pick(rng, [(EnterpriseSize.LARGE.value, 1), (EnterpriseSize.MEDIUM.value, 2)])
            name = f"哈尔滨市{district}区{rng.choice(BRANDS)}{trade}"
            voltage, capacity = Decimal("10"), rng.choice((400, 500, 630, 800, 1000, 1250, 1600, 2000))
            season = SEASON_PRIORITY
        elif role == PriorityRole.PREVENTION_POINT:
            street = rng.choice(STREETS)
            industry, name = rng.choice(
                (
                    ("8421", f"哈尔滨市{district}区{street}街道社区卫生服务中心"),
                    ("8431", f"哈尔滨市{district}区疾病预防控制中心{street}工作站"),
                    ("9610", f"{district}区{street}街道{rng.choice(BRANDS)}社区疫情防控卡点"),
                )
            )
            season = SEASON_PRIORITY
        elif role == PriorityRole.SUPPLIES_MAKER:
            industry, trade = rng.choice(SUPPLIES_INDUSTRIES)
            size = _pick(rng, [(EnterpriseSize.SMALL.value, 3), (EnterpriseSize.MICRO.value, 1)])
            name = _company(rng, district, trade, size)
            voltage, capacity = Decimal("10"), rng.choice(SMALL_CAPACITIES)
            season = SEASON_SUPPLIES
        else:
            high = rng.randint(1, 100) <= 8
            industry, trade = rng.choice(GC_HIGH_ENERGY if high else GC_INDUSTRIES)
            size = _pick(
                rng,
                [
                    (EnterpriseSize.MICRO.value, 45),
                    (EnterpriseSize.SMALL.value, 35),
                    (EnterpriseSize.MEDIUM.value, 15),
                    (EnterpriseSize.LARGE.value, 5),
                ],
            )
            name = _company(rng, district, trade, size)
            big = size in (EnterpriseSize.LARGE, EnterpriseSize.MEDIUM)
            if rng.randint(1, 100) <= (70 if big else 15):
                voltage = Decimal("35") if size == EnterpriseSize.LARGE and rng.randint(1, 10) == 1 else Decimal("10")
                capacity = rng.choice(HARBIN_CAPACITIES_35KV[:4] if voltage == 35 else SMALL_CAPACITIES)
            if industry == "4430":
                season = SEASON_HEATING
        low_voltage_range = LOW_VOLTAGE_KWH.get(size, (1500, 12000))
        base_kwh = _capacity_kwh(rng, capacity) if capacity else rng.randint(*low_voltage_range)
        # Power-factor adjustment applies from 100 kVA.
        pf_index = rng.randrange(len(PF_RATES)) if capacity >= 100 else None

    if industry == "4430" and category == L:
        season = SEASON_HEATING
    account = DemoAccount(
        account_no=account_no,
        name=name,
        district=district,
        category=category,
        industry_code=industry,
        voltage_kv=voltage,
        basic_charge_method=method,
        capacity_kva=capacity,
        contract_demand_kw=contract,
        enterprise_size=size,
        priority_role=role,
    )
    profile = _Profile(
        base_kwh=base_kwh,
        season=season,
        pf_index=pf_index,
        payer=payer,
        arrears_from=arrears_from,
        late_payer=late_payer,
    )
    return account, profile


def _make_bills(account: DemoAccount, profile: _Profile, seed: int) -> list[DemoBill]:
    rng = random.Random(f"relief-demo-bills:{seed}:{account.account_no}")  # noqa: S311 - demo data
    energy_rate = demo_rate(
        category=account.category, voltage_kv=account.voltage_kv, component=TariffComponent.ENERGY_FLAT
    )
    if account.basic_charge_method == BasicChargeMethod.CAPACITY:
        basic_rate: Decimal | None = demo_rate(
            category=account.category, voltage_kv=account.voltage_kv, component=TariffComponent.BASIC_CAPACITY
        )
    elif account.basic_charge_method == BasicChargeMethod.DEMAND:
        basic_rate = demo_rate(
            category=account.category, voltage_kv=account.voltage_kv, component=TariffComponent.BASIC_DEMAND
        )
    else:
        basic_rate = None

    bills: list[DemoBill] = []
    previous_lines: Decimal | None = None
    for month, period in enumerate(PERIODS, start=1):
        noise = Decimal(rng.randint(900, 1100))
        kwh = int(
            (Decimal(profile.base_kwh) * profile.season[month - 1] * noise / (THOUSAND * THOUSAND)).to_integral_value(
                ROUND_HALF_UP
            )
        )
        energy = money(kwh * energy_rate)

        max_demand: int | None = None
        if account.basic_charge_method == BasicChargeMethod.CAPACITY:
            basic = money(account.capacity_kva * basic_rate)
        elif account.basic_charge_method == BasicChargeMethod.DEMAND:
            billed = billed_demand(contract_kw=account.contract_demand_kw, capacity_kva=account.capacity_kva)
            # Mostly below the contract; about one month in eight above 105% (charged double on the excess).
            ratio = rng.randint(1060, 1250) if rng.randint(1, 100) <= 12 else rng.randint(600, 1040)
            max_demand = int((billed * ratio / THOUSAND).to_integral_value(ROUND_HALF_UP))
            basic = demand_basic_charge(
                contract_kw=account.contract_demand_kw,
                capacity_kva=account.capacity_kva,
                actual_kw=max_demand,
                rate=basic_rate,
            )
        else:
            basic = Decimal("0.00")

        if profile.pf_index is None:
            pf_rate = Decimal("0")
        else:
            step = rng.choice((-1, 0, 0, 0, 0, 0, 0, 1))
            pf_rate = PF_RATES[min(max(profile.pf_index + step, 0), len(PF_RATES) - 1)]
        pf_charge = money((energy + basic) * pf_rate)

        lines = energy + basic + pf_charge
        late_fee = Decimal("0.00")
        if profile.late_payer and rng.randint(1, 100) <= 35:
            overdue_base = previous_lines if previous_lines is not None else lines
            late_fee = money(overdue_base * LATE_FEE_PER_DAY * rng.randint(3, 30))
        gross = lines + late_fee

        if profile.payer == "arrears" and month >= profile.arrears_from:
            paid = Decimal("0.00") if rng.randint(1, 100) <= 60 else money(gross * rng.randint(10, 80) / 100)
        elif profile.payer == "partial" and rng.randint(1, 100) <= 25:
            paid = money(gross * rng.randint(30, 95) / 100)
        else:
            paid = gross

        bills.append(
            DemoBill(
                account_no=account.account_no,
                period=period,
                energy_kwh=kwh,
                energy_charge=energy,
                basic_rate=basic_rate,
                max_demand_kw=max_demand,
                basic_charge=basic,
                power_factor_rate=pf_rate,
                power_factor_charge=pf_charge,
                late_fee=late_fee,
                paid=paid,
            )
        )
        previous_lines = lines
    return bills


def generate(
    *, accounts: int = DEFAULT_ACCOUNTS, seed: int = DEFAULT_SEED, districts: Sequence[str] = DEFAULT_DISTRICTS
) -> DemoData:
    """``accounts`` demo accounts spread over ``districts`` (in turn) and their bills for 2020-01 … 12."""
    if accounts < 0:
        raise ValueError("accounts must not be negative")
    if accounts >= 10_000_000:
        raise ValueError("at most 9,999,999 demo accounts")
    if not districts:
        raise ValueError("at least one district is needed")
    data = DemoData(seed=seed)
    for index in range(accounts):
        district_no = index % len(districts)
        account, profile = _make_account(index, seed, district_no + 1, districts[district_no])
        data.accounts.append(account)
        data.bills.extend(_make_bills(account, profile, seed))
    return data

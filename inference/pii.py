"""Masks personal data in Chinese after-sales texts before anything is stored or logged.

Why here and why regexes: every text the API sees may carry a customer's phone number, ID-card number,
bank card, e-mail, delivery address or name. Storage and logs only ever need the complaint, so the
personal parts are replaced by a tag that names what was there (``[手机号]``, ``[地址]``...; Chinese
because the people who read stored texts are Chinese-speaking support staff). The detectors are
precompiled regular expressions plus cheap validators (Luhn for bank cards, the GB 11643 checksum
and a birth-date check for ID-card numbers) because the masker sits on the hot path of every request
and has to stay predictable: no model, no dictionary download, linear-time patterns only.

Design choices, each one for a reason:

* Matching runs on a copy in which full-width digits and a few full-width symbols (＋－＠（）Ｘ and the
  ideographic space) are mapped one-to-one to ASCII. One-to-one keeps offsets identical, so the
  output keeps every character that is not masked exactly as the customer typed it.
* Numbers are masked only when they look like personal data, not merely long: order numbers,
  SKUs, prices, dates, quantities, model names, 12315 and 400/800 service numbers stay, because the
  classifier and the people reading the ticket need them. A 16–19 digit run is a bank card only if
  it passes Luhn, an 18-character run an ID only with a real province code, birth date and check
  character. Right after a label the customer's own word counts more than the check digit (a typo
  in "身份证号…" or "卡号…" is still masked), and after 订单号/运单号/SKU/IMEI... a number is never
  taken for a bank card or an old 15-digit ID.
* ID-card numbers win over bank cards, e-mails over the digits inside them; overlapping candidates
  are resolved by a fixed precedence (the order of ``PII_KINDS``).
* Masking is idempotent by construction: detectors look at neighbouring characters (digit
  boundaries, labels), and replacing a span with a tag can change a neighbour, so the scan is
  repeated on the masked text until it finds nothing new. Every detector's character classes
  exclude ``[`` and ``]``, so a tag is never part of a match; each round therefore removes at least
  one unmasked character and the loop ends (in practice after one or two rounds).
* A text with no digit, no ``@`` and no address/name label returns after one cheap regex search,
  which is the common case for complaint texts.

Measured throughput (one core of a shared 2-vCPU VM under load ~4, Python 3.11, best of 7 runs over
10,000 realistic ~58-character complaint sentences, snippet in the test module's docstring):
about 50,000 texts/s for ``mask_pii`` when a third of the texts carry PII (37k–54k across runs),
about 23,000/s when every text carries two or three PII items, about 90,000/s for texts with
prices/dates/order numbers but no PII, and over 500,000/s for texts without any digit or label.

Known limitations:

* Addresses need an administrative or community start (a province name, …省/市/区/县/州,
  …小区/花园/大厦) followed by a street/building word and a house or room number, or an explicit
  label (地址：, 收货地址:, 住址是); a bare "建国路88号", numbers in Chinese numerals ("八十八号") and
  a place name glued to an unrelated word ("公司杭州市…") are missed. The span runs to the last
  house/room number within 40 characters, so a following "3号发货" in the same clause can be swallowed.
* Names are found only after a label (收件人/收货人/联系人/寄件人/发件人/姓名), one name per label;
  without ":"/是/为 the name must start with a common surname. "我叫张三" is not masked.
* Any 11-digit number starting 1[3-9] is masked as a mobile, including an order number of that
  shape; an unlabelled 16–19-digit order number that passes Luhn by chance (1 in 10) is masked as a
  bank card; an unlabelled 15-digit number with a valid province code and date is taken for an old ID.
"""

from __future__ import annotations

import re
from bisect import bisect_right, insort
from calendar import monthrange
from dataclasses import dataclass

__all__ = ["PII_KINDS", "PII_TAGS", "PiiMatch", "find_pii", "mask_pii"]

#: Every kind the masker knows, in precedence order: when two candidates overlap the earlier kind wins.
PII_KINDS: tuple[str, ...] = ("email", "id_card", "bank_card", "mobile", "landline", "address", "name")

#: The placeholder written in place of each kind. None of them contains a digit, "@" or a label the
#: detectors react to, which is what makes masking a fixpoint.
PII_TAGS: dict[str, str] = {
    "email": "[邮箱]",
    "id_card": "[身份证号]",
    "bank_card": "[银行卡号]",
    "mobile": "[手机号]",
    "landline": "[固话]",
    "address": "[地址]",
    "name": "[姓名]",
}

_PRIORITY = {kind: i for i, kind in enumerate(PII_KINDS)}
_MAX_ROUNDS = 8  # the rescan loop ends by itself (see module docstring); this only bounds a future bug


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One detected span of ``text``: ``text[start:end] == value``; ``kind`` is one of ``PII_KINDS``."""

    kind: str
    start: int
    end: int
    value: str

    @property
    def tag(self) -> str:
        return PII_TAGS[self.kind]


# --------------------------------------------------------------------------------------------------
# Normalisation and the cheap pre-check
# --------------------------------------------------------------------------------------------------

# One-to-one mapping (same length), so offsets in the normalised copy are offsets in the original.
_FULLWIDTH = {0xFF10 + i: str(i) for i in range(10)}
_FULLWIDTH.update({ord("＋"): "+", ord("－"): "-", ord("＠"): "@", ord("（"): "(", ord("）"): ")",
                   ord("Ｘ"): "X", ord("ｘ"): "x", 0x3000: " "})
_HAS_FULLWIDTH = re.compile("[" + "".join(chr(c) for c in _FULLWIDTH) + "]")

# Without any of these nothing below can match: numbers need a digit, e-mails an "@", labelled
# addresses 地址/住址 and names one of their labels.
_PRECHECK = re.compile(r"[0-9０-９@＠址]|收件人|收货人|联系人|寄件人|发件人|姓名")
_ANY_DIGIT = re.compile(r"[0-9]")
# Every numeric kind has at least 7 digits, possibly split by a space, hyphen or parenthesis.
_LONG_DIGITS = re.compile(r"[0-9](?:[ \-()]?[0-9]){6}")


def _normalise(text: str) -> str:
    return text.translate(_FULLWIDTH) if _HAS_FULLWIDTH.search(text) else text


# --------------------------------------------------------------------------------------------------
# Numbers, e-mail
# --------------------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?=[A-Za-z0-9])(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}"
    r"@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)

# 11 digits starting 1[3-9]; optional +86/0086/86 prefix; a single space or hyphen may split digits
# after the first three (138 1234 5678, 138-1234-5678).
_MOBILE = re.compile(
    r"(?=[(+018])(?<![0-9])(?:(?:\(\+?86\)|(?:\+|00)?86)[ \-]?)?1[3-9][0-9](?:[ \-]?[0-9]){8}(?![0-9])"
)

# Area code 010 / 02x / 0xxx (optionally in parentheses), a 7–8 digit local number not starting with
# 0, optional extension. 400/800 service numbers and 12315 never start with 0, so they stay.
_LANDLINE = re.compile(
    r"(?=[(0])(?<![0-9])(?:\(0(?:10|2[0-9]|[3-9][0-9]{2})\)|0(?:10|2[0-9]|[3-9][0-9]{2}))"
    r"[ \-]?[1-9][0-9]{2,3}[ \-]?[0-9]{4}"
    r"(?:[ ]?(?:转|分机|ext\.?|EXT\.?|-)[ ]?[0-9]{1,6})?(?![0-9])"
)

_ID18 = re.compile(r"(?=[1-9])(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_ID15 = re.compile(r"(?=[1-9])(?<![0-9A-Za-z])[1-9][0-9]{14}(?![0-9A-Za-z])")

# 16–19 digits, contiguous or in groups of four split by a space or hyphen.
# Not glued to Latin letters either: "YT1234567890123456" is a tracking number, not a card.
_BANK = re.compile(
    r"(?=[0-9])(?<![0-9A-Za-z])(?P<body>[0-9]{4}(?:[ \-]?[0-9]{4}){3})(?P<tail>[ \-]?[0-9]{1,3})?(?![0-9A-Za-z])"
)
_SEPARATORS = str.maketrans("", "", " -")

# Context right before a number: keyword, then at most 8 characters that are neither digits nor tag
# brackets. Excluding digits and brackets keeps the decision stable after masking (a tag in between
# would shorten the distance otherwise), which the idempotence guarantee relies on.
_CTX_GAP = r"[^0-9\[\]]{0,8}$"
_ORDER_CTX = re.compile(
    r"(?:订单|单号|运单|快递|物流|编号|货号|条码|条形码|序列号|串号|流水号|交易号|批号|SKU|sku|SN|IMEI|imei)" + _CTX_GAP
)
_ID_CTX = re.compile(r"(?:身份证|证件号|证件)(?!号?\])" + _CTX_GAP)
_BANK_CTX = re.compile(r"(?:卡号|银行卡|储蓄卡|借记卡|信用卡)(?!号?\])" + _CTX_GAP)
_CTX_WINDOW = 16

_PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
     50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _valid_date(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= monthrange(year, month)[1]


def _id18_ok(num: str) -> bool:
    """Province code, a real birth date (1800–2099) and the GB 11643 check character."""
    if int(num[:2]) not in _PROVINCE_CODES:
        return False
    year, month, day = int(num[6:10]), int(num[10:12]), int(num[12:14])
    if not 1800 <= year <= 2099 or not _valid_date(year, month, day):
        return False
    total = sum(int(c) * w for c, w in zip(num[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == num[17].upper()


def _id15_ok(num: str) -> bool:
    """Pre-1999 IDs have no check digit: province code and a real 19yy birth date are all we can test."""
    return int(num[:2]) in _PROVINCE_CODES and _valid_date(1900 + int(num[6:8]), int(num[8:10]), int(num[10:12]))


def _context(norm: str, start: int, pattern: re.Pattern[str]) -> bool:
    return pattern.search(norm, max(0, start - _CTX_WINDOW), start) is not None


def _number_candidates(norm: str, out: list[tuple[str, int, int]]) -> None:
    for m in _ID18.finditer(norm):
        if _id18_ok(m.group()) or _context(norm, m.start(), _ID_CTX):
            out.append(("id_card", m.start(), m.end()))
    for m in _ID15.finditer(norm):
        s = m.start()
        if _context(norm, s, _ID_CTX) or (_id15_ok(m.group()) and not _context(norm, s, _ORDER_CTX)):
            out.append(("id_card", s, m.end()))
    for m in _BANK.finditer(norm):
        s = m.start()
        if _context(norm, s, _ORDER_CTX):
            continue
        labelled = _context(norm, s, _BANK_CTX)
        tail = m.group("tail")
        if labelled or _luhn_ok(m.group().translate(_SEPARATORS)):
            out.append(("bank_card", s, m.end()))
        elif tail and tail[0] in " -" and _luhn_ok(m.group("body").translate(_SEPARATORS)):
            # "6222 0212 3456 7894 2件": the trailing group was a quantity, not card digits.
            out.append(("bank_card", s, m.start("tail")))
    for m in _MOBILE.finditer(norm):
        out.append(("mobile", m.start(), m.end()))
    for m in _LANDLINE.finditer(norm):
        out.append(("landline", m.start(), m.end()))


# --------------------------------------------------------------------------------------------------
# Addresses and names
# --------------------------------------------------------------------------------------------------


def _cjk_class_without(stop: str) -> str:
    """The inside of a character class: CJK ideographs minus ``stop`` (``re`` has no class subtraction)."""
    excluded = sorted({ord(c) for c in stop})
    parts: list[str] = []
    for lo, hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF)):
        cur = lo
        for cp in excluded:
            if cp < cur or cp > hi:
                continue
            if cp > cur:
                parts.append(f"\\u{cur:04x}-\\u{cp - 1:04x}" if cp - 1 > cur else f"\\u{cur:04x}")
            cur = cp + 1
        if cur <= hi:
            parts.append(f"\\u{cur:04x}-\\u{hi:04x}")
    return "".join(parts)


_CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
# Function words that end the text before a place name ("寄到杭州市", "我住在北京市"), so an address
# start must not swallow them. City names containing one of these (成都, 太原, 来宾...) are why the
# list is short.
_ADDR_STOP = "在到往寄送发住是从至于为址的了给把被让请帮我你他她它们这哪要想说就还也又再才很已没不些与及"
_CJKNS_CHARS = _cjk_class_without(_ADDR_STOP)
_CJKNS = f"[{_CJKNS_CHARS}]"

_PROVINCES = (
    "北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|"
    "四川|贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门"
)
_UNITS = r"号楼|号院|号|栋|幢|座|楼|层|单元|室|户|弄|巷"
_TERMINAL = rf"(?:[0-9]{{1,6}}[A-Za-z]?|[A-Za-z])[ ]?(?:{_UNITS})"
# A bare room number after the last unit ("5号 602", "2单元501"), not a date or time ("88号 2026-11-23").
_ROOM = r"(?:[ \-#]?[0-9]{1,5}(?:室|户|房)?(?![0-9.:/\-]))?"
_ADDR_CHAR = rf"[{_CJK}A-Za-z0-9 \-#·]"
_COMMUNITY = r"小区|花园|公寓|大厦|家园|新村|苑|公馆|大院|社区|宿舍"

_ADDRESS = re.compile(
    rf"(?:(?:{_PROVINCES})(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)?"
    rf"|(?<!{_CJKNS})(?:{_CJKNS}{{2,6}}?(?:省|市|区|县|旗|盟)|{_CJKNS}{{1,5}}?州)"
    rf"|(?<![{_CJKNS_CHARS}A-Za-z])[{_CJKNS_CHARS}A-Za-z]{{1,8}}?(?:{_COMMUNITY}))"
    rf"{_ADDR_CHAR}{{0,40}}{_TERMINAL}{_ROOM}"
)
# An administrative start plus a number is not yet an address ("北京市的仓库3号发货"): require a
# street- or building-level word somewhere in the span.
_LOCALITY = re.compile(
    rf"路|街|道|巷|弄|胡同|村|屯|镇|乡|{_COMMUNITY}|园|城|广场|中心|大楼|号楼|号院|栋|幢|座|单元|室"
)
_TERMINAL_ROOM = re.compile(_TERMINAL + _ROOM)
_HINT_FIRST = "".join(sorted({name[0] for name in _PROVINCES.split("|")} | set("省市区县旗盟州")
                             | {word[0] for word in _COMMUNITY.split("|")}))
_ADDR_HINT = re.compile(rf"(?=[{_HINT_FIRST}])(?:(?P<prov>{_PROVINCES})|[省市区县旗盟州]|{_COMMUNITY})")
# Up to 9 place-name characters (one more than a start may have), read backwards on the reversed text.
_BACK_PLACE = re.compile(rf"{_CJKNS}{{0,9}}")
_BACK_COMMUNITY = re.compile(rf"[{_CJKNS_CHARS}A-Za-z]{{0,9}}")
# Gate for the address regex: some digit or letter directly followed by a unit.
_TERMINAL_GATE = re.compile(rf"[0-9A-Za-z][ ]?(?:{_UNITS})")

_ADDR_LABEL = re.compile(
    rf"(?:收货|收件|寄件|送货|配送|家庭|公司|详细|居住|联系|现)?(?:地址|住址)"
    rf"(?P<sep>[ \t]*(?:[:：]|是|为|在)?[ \t]*)(?P<val>[{_CJK}A-Za-z0-9\-#·]{_ADDR_CHAR}{{1,59}})"
)

_NAME_LABEL = re.compile(
    rf"(?=[收联寄发姓])(?:收件人|收货人|联系人|寄件人|发件人|姓名)(?P<sep>[ \t]*(?:[:：]|是|为|叫)[ \t]*|[ \t]+)?"
    rf"(?P<val>[{_CJK}]{{1,4}}|[A-Za-z][A-Za-z.'\-]{{0,29}}(?: [A-Za-z][A-Za-z.'\-]{{0,29}}){{0,2}})"
)
# Words that end a name ("收件人张三电话..."): honorifics, other labels, particles and pronouns.
_NAME_STOP = re.compile(
    r"先生|女士|小姐|老师|师傅|同学|电话|手机|联系|地址|号码|收货|收件|本人|自己|信息|姓名|名字"
    r"|客服|快递|卖家|商家|店家|买家|骑手"
    r"|[的了吗呢啊吧呀哦嘛说是在不没已和与及给让把被要都也还就又再才很我你他她它这那电收寄]"
)
_PLACE_START = re.compile(rf"(?:{_PROVINCES})|{_CJKNS}{{1,4}}?(?:省|市|区|县|州)")
_HONORIFIC = re.compile(r"先生|女士|小姐|老师|师傅")
# Without an explicit ":"/是/为 the name must start with a common surname, so "联系人一直不接" and
# "收货人信息有误" stay. Ambiguous surnames that are everyday words (于, 和, 信...) are left out.
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤"
    "温康施牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴"
    "霍涂苗谷盛曲翁冉骆蓝游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景"
    "党宫费卜冷晏席卫米柏宗瞿桂佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻迟邝封谈"
    "匡鞠惠荆乐冀郁胥班储栗燕楚鄢劳谌奚皮粟冼蔺闻厉伊仝阚权帅屠朴盖练廉禹井祖漆巴丰支卿狄计索宣晋初"
)
_COMPOUND_SURNAMES = frozenset({"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐",
                                "长孙", "宇文", "司徒", "夏侯", "端木", "南宫", "西门", "独孤"})


def _address_starts(norm: str) -> list[int]:
    """The only positions where ``_ADDRESS`` can match, found from its anchors.

    Why: trying the address pattern at every character costs more than all other detectors together.
    A match starts either at a province name or at the beginning of the place-name run (the
    look-behind boundary) in front of a 省/市/区/县/州... or 小区/花园... suffix, so matching only
    there finds the same addresses as a full scan at a fraction of the cost.
    """
    starts: set[int] = set()
    rev = ""
    for hint in _ADDR_HINT.finditer(norm):
        if hint.lastgroup == "prov":
            starts.add(hint.start())
            continue
        # Walk back from the suffix over place-name characters: a forward match on the reversed text.
        rev = rev or norm[::-1]
        at = len(norm) - hint.start()
        for back in (_BACK_PLACE, _BACK_COMMUNITY):
            length = back.match(rev, at).end() - at
            if 0 < length <= 8:
                starts.add(hint.start() - length)
    return sorted(starts)


def _address_candidates(norm: str, out: list[tuple[str, int, int]]) -> None:
    if _ANY_DIGIT.search(norm) and _TERMINAL_GATE.search(norm):
        end = 0
        for pos in _address_starts(norm):
            if pos < end:
                continue
            m = _ADDRESS.match(norm, pos)
            if m and _LOCALITY.search(m.group()):
                out.append(("address", pos, m.end()))
                end = m.end()
    label_at = norm.find("址")
    if label_at >= 0:
        for m in _ADDR_LABEL.finditer(norm, max(0, label_at - 3)):
            val, start = m.group("val"), m.start("val")
            explicit = ":" in m.group("sep") or "：" in m.group("sep")
            if explicit and val[0] in _ADDR_STOP:
                continue
            end = 0
            for t in _TERMINAL_ROOM.finditer(val):
                end = t.end()
            if not end:
                # No house number: after "地址：" take the first word; after "地址是/在" or no
                # separator it is probably not an address at all ("地址是不是写错了").
                if not explicit:
                    continue
                end = len(val.split(" ", 1)[0])
            value = val[:end].rstrip(" -#·")
            if len(value) >= 2:
                out.append(("address", start, start + len(value)))


def _name_candidates(norm: str, out: list[tuple[str, int, int]]) -> None:
    for m in _NAME_LABEL.finditer(norm):
        val, start = m.group("val"), m.start("val")
        sep = (m.group("sep") or "").strip(" \t")
        if val[0].isascii():
            if sep:  # Latin names only after ":"/是/为, otherwise "联系人 iPhone..." would qualify
                out.append(("name", start, start + len(val.rstrip(" .-'"))))
            continue
        stop = _NAME_STOP.search(val)
        name = val[: stop.start()] if stop else val
        # "收件人张三杭州市...": the name stops where a place name starts.
        for k in range(2, len(name)):
            if _PLACE_START.match(norm, start + k):
                name = name[:k]
                break
        if not name:
            continue
        if not sep and not (name[0] in _SURNAMES or name[:2] in _COMPOUND_SURNAMES):
            continue
        if len(name) == 1 and not _HONORIFIC.match(norm, start + 1):
            continue  # a lone surname is a name only in "王先生"
        out.append(("name", start, start + len(name)))


# --------------------------------------------------------------------------------------------------
# Scanning, conflict resolution, the rescan loop
# --------------------------------------------------------------------------------------------------


def _scan(norm: str) -> list[tuple[str, int, int]]:
    """All accepted (kind, start, end) spans of one pass over a normalised text, non-overlapping."""
    cands: list[tuple[str, int, int]] = []
    if "@" in norm:
        cands.extend(("email", m.start(), m.end()) for m in _EMAIL.finditer(norm))
    if _LONG_DIGITS.search(norm):
        _number_candidates(norm, cands)
    _address_candidates(norm, cands)
    _name_candidates(norm, cands)
    if not cands:
        return []
    # Precedence first, then leftmost, then longest; a loser that overlaps a winner is dropped (the
    # rescan loop picks up whatever part of it is left standing next to the tag).
    cands.sort(key=lambda c: (_PRIORITY[c[0]], c[1], c[1] - c[2]))
    starts: list[int] = []
    spans: dict[int, tuple[str, int, int]] = {}
    for cand in cands:
        _, s, e = cand
        i = bisect_right(starts, s)
        if i and spans[starts[i - 1]][2] > s:
            continue
        if i < len(starts) and starts[i] < e:
            continue
        insort(starts, s)
        spans[s] = cand
    return [spans[s] for s in starts]


def _render(norm: str, spans: list[tuple[str, int, int]]) -> tuple[str, list[tuple[int, int, int]]]:
    """The masked text and, for each unmasked segment, (masked_start, original_start, length)."""
    parts: list[str] = []
    segments: list[tuple[int, int, int]] = []
    pos = out_len = 0
    for kind, s, e in spans:
        if s > pos:
            segments.append((out_len, pos, s - pos))
            parts.append(norm[pos:s])
            out_len += s - pos
        tag = PII_TAGS[kind]
        parts.append(tag)
        out_len += len(tag)
        pos = e
    if pos < len(norm):
        segments.append((out_len, pos, len(norm) - pos))
        parts.append(norm[pos:])
    return "".join(parts), segments


def _find_spans(text: str) -> list[tuple[str, int, int]]:
    if not text or not _PRECHECK.search(text):
        return []
    norm = _normalise(text)
    spans = _scan(norm)
    if not spans:
        return []
    for _ in range(_MAX_ROUNDS):
        masked, segments = _render(norm, spans)
        seg_starts = [seg[0] for seg in segments]
        added = False
        for kind, ms, me in _scan(masked):
            i = bisect_right(seg_starts, ms) - 1
            if i < 0:
                continue
            m0, o0, length = segments[i]
            if me > m0 + length:  # cannot happen (no detector matches a bracket); never mask a tag
                continue
            spans.append((kind, o0 + ms - m0, o0 + me - m0))
            added = True
        if not added:
            break
        spans.sort(key=lambda sp: sp[1])
    return spans


def find_pii(text: str) -> list[PiiMatch]:
    """Every personal-data span in ``text``, sorted by position, non-overlapping.

    Offsets refer to ``text`` as given (full-width digits are matched but not rewritten), so
    ``text[m.start:m.end] == m.value``. Includes spans that only become visible once their
    neighbours are masked, i.e. exactly the spans ``mask_pii`` replaces.
    """
    return [PiiMatch(kind, s, e, text[s:e]) for kind, s, e in _find_spans(text)]


def mask_pii(text: str) -> str:
    """``text`` with every personal-data span replaced by its ``PII_TAGS`` tag; all else unchanged.

    Idempotent (``mask_pii(mask_pii(t)) == mask_pii(t)``) and total over ``str``: empty, huge,
    control characters, emoji and lone surrogates all come back as a string.
    """
    spans = _find_spans(text)
    if not spans:
        return text
    parts: list[str] = []
    pos = 0
    for kind, s, e in spans:
        parts.append(text[pos:s])
        parts.append(PII_TAGS[kind])
        pos = e
    parts.append(text[pos:])
    return "".join(parts)

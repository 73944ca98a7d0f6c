"""PII masking: every kind on realistic after-sales sentences, the things that must stay, idempotence,
full-width input and a seeded fuzz. Check digits (Luhn, GB 11643) are computed here, independently of
the module, so a test value is valid or invalid on purpose rather than by accident.

Throughput was measured outside the tests (numbers in the module docstring) with:

    texts = [random.choice(SENTENCES) for _ in range(10_000)]
    min(timeit.repeat(lambda: [mask_pii(t) for t in texts], number=1, repeat=5))
"""

from __future__ import annotations

import random

import pytest

from inference.pii import PII_KINDS, PII_TAGS, PiiMatch, find_pii, mask_pii


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def with_luhn(prefix: str) -> str:
    """``prefix`` plus the one check digit that makes it pass Luhn."""
    return next(prefix + d for d in "0123456789" if luhn_ok(prefix + d))


def id_check(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


def valid_id(first17: str) -> str:
    return first17 + id_check(first17)


# Valid test values, built from their check digits.
ID_BJ = valid_id("11010119900307123")  # Beijing Dongcheng, born 1990-03-07
ID_X = valid_id("33010619780515443")  # ends in X
ID_BAD = "11010119900307123" + str((int(id_check("11010119900307123").replace("X", "10")) + 1) % 10)
CARD16 = with_luhn("622202123456789")
CARD19 = with_luhn("621700001000123456")
VISA = with_luhn("411111111111111")
# An 18-digit number that is a valid ID *and* passes Luhn: must come out as an ID, not a bank card.
ID_AND_LUHN = next(
    n for n in (valid_id(f"44030519851231{seq:03d}") for seq in range(1000)) if n[-1] != "X" and luhn_ok(n)
)
ORDER_NO = "2026112312345678"


def test_test_values_are_what_they_claim():
    assert ID_X.endswith("X") and ID_BJ[-1] != "X" and ID_BAD != ID_BJ
    assert luhn_ok(CARD16) and luhn_ok(CARD19) and luhn_ok(VISA) and len(CARD19) == 19
    assert luhn_ok(ID_AND_LUHN)
    assert not luhn_ok(ORDER_NO)  # so it must not be taken for a bank card
    assert not luhn_ok("6222021234567890")


def spaced(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


POSITIVE = [
    # mobile
    ("我的手机号是13812345678，麻烦回个电话", "我的手机号是[手机号]，麻烦回个电话"),
    ("电话 138 1234 5678 随时联系", "电话 [手机号] 随时联系"),
    ("打138-1234-5678找我，白天都在", "打[手机号]找我，白天都在"),
    ("+86 139 1234 5678 是我的号码", "[手机号] 是我的号码"),
    ("国外打过来要拨0086-15912345678", "国外打过来要拨[手机号]"),
    ("短信发到8618612345678了吗", "短信发到[手机号]了吗"),
    ("微信同号vx17712345678，加一下", "微信同号vx[手机号]，加一下"),
    # full-width digits are matched, everything else (：（）) is left exactly as typed
    ("手机：１３８１２３４５６７８（白天打）", "手机：[手机号]（白天打）"),
    ("＋８６ １３９１２３４５６７８", "[手机号]"),
    # landline
    ("公司座机010-12345678，工作日可打", "公司座机[固话]，工作日可打"),
    ("请打(0755)8888 6666转123找售后", "请打[固话]找售后"),
    ("门店电话（0755）8888 6666，没人接", "门店电话[固话]，没人接"),
    ("店铺电话0571-8765432一直占线", "店铺电话[固话]一直占线"),
    ("打过去是021 6432 1234 分机 806", "打过去是[固话]"),
    # ID cards
    (f"身份证号：{ID_BJ}，实名认证一直失败", "身份证号：[身份证号]，实名认证一直失败"),
    (f"我的身份证{ID_X}被你们泄露了", "我的身份证[身份证号]被你们泄露了"),
    (f"实名信息 {ID_X.lower()} 填错了", "实名信息 [身份证号] 填错了"),
    (f"实名信息 {ID_BJ} 填错了", "实名信息 [身份证号] 填错了"),
    ("老身份证号110101900307123还能用吗", "老身份证号[身份证号]还能用吗"),
    (f"身份证号{ID_BAD}，客服说对不上", "身份证号[身份证号]，客服说对不上"),  # labelled: checksum typo still masked
    (f"{ID_AND_LUHN}", "[身份证号]"),  # ID beats bank card
    ("身份证１１０１０１１９９００３０７１２３" + id_check("11010119900307123"), "身份证[身份证号]"),
    # e-mail
    ("发票请发到 zhang.san+fp@example.com.cn 谢谢", "发票请发到 [邮箱] 谢谢"),
    ("邮箱13812345678@163.com收不到验证码", "邮箱[邮箱]收不到验证码"),
    ("邮箱是lisi＠qq.com", "邮箱是[邮箱]"),
    # bank cards: Luhn-valid, or labelled
    (f"退款请打到 {spaced(CARD16)} 这张卡", "退款请打到 [银行卡号] 这张卡"),
    (f"信用卡{VISA[:4]}-{VISA[4:8]}-{VISA[8:12]}-{VISA[12:]}被重复扣款", "信用卡[银行卡号]被重复扣款"),
    (f"退到{CARD19}就行", "退到[银行卡号]就行"),
    ("卡号：6222021234567890", "卡号：[银行卡号]"),  # fails Luhn, but labelled: a typo is still a card
    (f"用 {spaced(CARD16)} 2张卡都试了", "用 [银行卡号] 2张卡都试了"),  # trailing quantity is not card digits
    # addresses
    ("收货地址：北京市朝阳区建国路88号SOHO现代城5号楼1203室，麻烦改一下", "收货地址：[地址]，麻烦改一下"),
    ("寄到浙江省杭州市西湖区文三路 123 号，谢谢", "寄到[地址]，谢谢"),
    ("上海浦东新区张江路 100弄 5号 602 一直收不到快递", "[地址] 一直收不到快递"),
    ("放在阳光小区3栋2单元501门口就行", "放在[地址]门口就行"),
    ("xx小区3栋2单元501", "[地址]"),
    ("住址是广州市天河区天河路385号", "住址是[地址]"),
    ("地址：杭州西湖，电话联系", "地址：[地址]，电话联系"),
    ("收货地址:深圳市南山区科技园路1号A座1203，放前台", "收货地址:[地址]，放前台"),
    ("我住在成都市武侯区人民南路四段27号，快递一直不送上门", "我住在[地址]，快递一直不送上门"),
    # names
    ("联系人是王小明，下午在家", "联系人是[姓名]，下午在家"),
    ("收货人 欧阳娜娜 明天在家", "收货人 [姓名] 明天在家"),
    ("姓名：李四", "姓名：[姓名]"),
    ("收件人李四电话13912345678", "收件人[姓名]电话[手机号]"),
    ("联系人: John Smith", "联系人: [姓名]"),
    ("收件人：王先生，放快递柜", "收件人：[姓名]先生，放快递柜"),
    ("寄件人为赵六，电话0571-87654321", "寄件人为[姓名]，电话[固话]"),
]

NEGATIVE = [
    f"订单号 {ORDER_NO} 一直没发货",
    ORDER_NO,
    f"订单号{CARD16}",  # Luhn-valid by chance, but labelled as an order number
    "快递单号YT1234567890123456到现在没更新",
    "价格¥299.00，优惠后￥259，差价40元",
    "2026-11-23下单，11月25日才发货，20261123这天付的款",
    "买了3件，只到了2件，还差1件",
    "iPhone 15 Pro 和小米13 都有这个问题",
    "SKU-PB-10000 的充电宝鼓包了",
    "再不退款我就打12315投诉",
    "客服热线400-800-1234一直占线",
    "打4008001234和800-820-8820都没人接",
    "IMEI 356938035643809 的手机开不了机",
    "北京市的仓库3号发货，到现在没到",
    "联系人一直不接电话",
    "收货人信息有误，麻烦核实",
    "地址写错了，麻烦改一下",
    "地址是不是写错了",
    "评价写着5星好评，实际2星",
    "用了3个月，第2次返修，14:30送修",
    "手机用了三天就死机，根本没法用，要求退货！",
    "",
]


@pytest.mark.parametrize(("text", "expected"), POSITIVE)
def test_masks(text, expected):
    assert mask_pii(text) == expected


@pytest.mark.parametrize("text", NEGATIVE)
def test_leaves_non_personal_text_alone(text):
    assert mask_pii(text) == text
    assert find_pii(text) == []


def test_combined_example():
    text = "收件人：张三，电话13812345678"
    assert mask_pii(text) == "收件人：[姓名]，电话[手机号]"
    assert find_pii(text) == [PiiMatch("name", 4, 6, "张三"), PiiMatch("mobile", 9, 20, "13812345678")]


def test_everything_in_one_message():
    text = (f"收件人：张三，电话13812345678，备用010-12345678，身份证{ID_BJ}，邮箱zs@qq.com，"
            f"退款到{CARD16}，收货地址：北京市朝阳区建国路88号SOHO现代城5号楼1203室。订单号{ORDER_NO}，"
            "实付¥299.00，客服400-800-1234")
    assert mask_pii(text) == (
        "收件人：[姓名]，电话[手机号]，备用[固话]，身份证[身份证号]，邮箱[邮箱]，"
        f"退款到[银行卡号]，收货地址：[地址]。订单号{ORDER_NO}，实付¥299.00，客服400-800-1234"
    )
    assert [m.kind for m in find_pii(text)] == ["name", "mobile", "landline", "id_card", "email", "bank_card",
                                                "address"]


@pytest.mark.parametrize(("text", "kind"), [
    (ID_AND_LUHN, "id_card"),
    ("13812345678@163.com", "email"),
    (f"卡 {spaced(CARD16)}", "bank_card"),
    ("0571-87654321", "landline"),
])
def test_precedence(text, kind):
    assert [m.kind for m in find_pii(text)] == [kind]


@pytest.mark.parametrize("text", [t for t, _ in POSITIVE] + NEGATIVE)
def test_find_pii_offsets_and_idempotence(text):
    matches = find_pii(text)
    assert all(m.kind in PII_KINDS and text[m.start : m.end] == m.value for m in matches)
    assert all(a.end <= b.start for a, b in zip(matches, matches[1:], strict=False))
    masked = mask_pii(text)
    assert mask_pii(masked) == masked
    assert find_pii(masked) == []


def test_full_width_text_outside_matches_is_kept():
    text = "ＡＢＣ旗舰店：电话１３８１２３４５６７８，价格２９９元！"
    assert mask_pii(text) == "ＡＢＣ旗舰店：电话[手机号]，价格２９９元！"


def test_public_constants():
    assert set(PII_KINDS) == set(PII_TAGS)
    assert PII_TAGS["mobile"] == "[手机号]" and PII_TAGS["landline"] == "[固话]"
    assert PII_TAGS["id_card"] == "[身份证号]" and PII_TAGS["email"] == "[邮箱]"
    assert PII_TAGS["bank_card"] == "[银行卡号]" and PII_TAGS["address"] == "[地址]"
    assert PII_TAGS["name"] == "[姓名]"
    # tags are never detected themselves, which is what keeps masking a fixpoint
    all_tags = "".join(PII_TAGS.values())
    assert mask_pii(all_tags) == all_tags


@pytest.mark.parametrize("text", [
    "",
    "\x00\x01\x02\x1b[31m\x7f",
    "😀🔥💯 手机13812345678 🙏",
    "\ud800\udfff孤立代理项13812345678",
    "\u200b\u200d\ufeff零宽字符",
    "１３８" * 1000,
    "a" * 50_000 + "@",
    "1" * 50_000,
    "地址：" * 5_000,
    "收件人：张三，电话13812345678，地址北京市朝阳区建国路88号，" * 1_000,
])
def test_odd_input_never_raises(text):
    masked = mask_pii(text)
    assert isinstance(masked, str)
    assert mask_pii(masked) == masked


FRAGMENTS = [
    "13812345678", "138 1234 5678", "+86", "0086", "010-12345678", "(0755)", "转123", ID_BJ, ID_X, CARD16,
    spaced(CARD16), ORDER_NO, "@", "a@b.cn", "zs@qq.com", "北京市", "朝阳区", "建国路", "88号", "5号楼", "1203室",
    "小区", "3栋", "2单元", "501", "地址：", "住址", "收件人", "联系人：", "姓名", "张三", "王", "先生", "１３８",
    "４５６７８", "＠", "（", "）", "，", " ", "-", "[", "]", "[地址]", "[手机号]", "¥299.00", "12315", "400-800-1234",
]
ALPHABET = ("abcXYZ0123456789 -+()@.#:：，。！\n\t\x00\x07\u3000０１２３４５６７８９"
            "的在到是收件人地址省市区县路号楼室栋单元张王李先生😀🙏\u200b\ufeff\ud800")


def fuzz_texts(n: int, seed: int = 20261123) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(0, 12)):
            if rng.random() < 0.5:
                parts.append(rng.choice(FRAGMENTS))
            elif rng.random() < 0.5:
                parts.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 6))))
            else:  # anything at all, including unassigned code points and lone surrogates
                parts.append("".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(1, 4))))
        texts.append("".join(parts))
    return texts


def test_fuzz_never_raises_and_is_idempotent():
    for text in fuzz_texts(1500):
        matches = find_pii(text)
        assert all(text[m.start : m.end] == m.value and m.start < m.end for m in matches), text
        assert all(a.end <= b.start for a, b in zip(matches, matches[1:], strict=False)), text
        masked = mask_pii(text)
        assert isinstance(masked, str)
        assert mask_pii(masked) == masked, text
        # the text between matches is kept character for character
        rebuilt, pos = [], 0
        for m in matches:
            rebuilt += [text[pos : m.start], PII_TAGS[m.kind]]
            pos = m.end
        assert "".join(rebuilt) + text[pos:] == masked, text

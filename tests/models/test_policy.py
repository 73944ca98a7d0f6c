"""One test per escalation rule of data/taxonomy.yaml, plus the default mapping."""

import pytest

from models.policy import PriorityPolicy
from models.settings import REPO_ROOT
from models.taxonomy import load_taxonomy

TAX = load_taxonomy(REPO_ROOT / "data" / "taxonomy.yaml")
POLICY = PriorityPolicy(TAX)


def test_priority_follows_urgency_when_no_rule_fires():
    for level, prio in TAX.priority_from_urgency.items():
        d = POLICY.decide(level, 0.9, [], "一般般吧")
        assert d.priority == prio and d.urgency == level and not d.fired


def test_safety_hazard_label_raises_to_critical_with_reason():
    d = POLICY.decide("medium", 0.6, ["product_quality", "safety_hazard"], "质量不好")
    assert d.urgency == "critical" and d.priority == "P1" and d.escalate
    assert "safety_hazard" in d.fired
    assert any("安全隐患" in r for r in d.reasons) and any("商品质量" in r for r in d.reasons)


@pytest.mark.parametrize(
    "text, rule, level",
    [
        ("充电宝冒烟了，吓死人", "safety_words", "critical"),
        ("孩子用了脸上起疹子", "safety_words", "critical"),
        ("再不处理我就打12315", "legal_threat", "critical"),
        ("我已经咨询律师了", "legal_threat", "critical"),
        ("等着吧，我要发微博曝光你们", "media_threat", "critical"),
        ("只好寻求媒体的帮助", "media_threat", "critical"),
        ("再不处理我就把开箱视频发抖音", "media_threat", "critical"),
        ("同时把检测结果发到妈妈群和微博上", "media_threat", "critical"),
        ("我会把这件事曝光", "media_threat", "critical"),
        ("已经联系了当地电视台", "media_threat", "critical"),
        ("商家不承认，截图我都发到小红书了", "media_threat", "critical"),
        ("不给说法就发抖音，让大家别再推荐这家", "media_threat", "critical"),
        # harm and near-misses as the guideline's R11/R13 define them (phrasings from the real dev texts)
        ("房间里有蚊子，咬了不少包", "safety_words", "critical"),
        ("浴室特滑，差点扭伤脚", "safety_words", "critical"),
        ("楼梯打了洗洁精也没标记，差点摔跤", "safety_words", "critical"),
        ("烧水壶不会自停，烫到手", "safety_words", "critical"),
        ("房间甲醛含量过高", "safety_words", "critical"),
        ("电源连到插座上时火花噼里啪啦的冒", "safety_words", "critical"),
        ("充电器插上就冒火花", "safety_words", "critical"),
        ("拆包装时划伤了手", "safety_words", "critical"),
        ("刀片露在外面，很容易伤人", "safety_words", "critical"),
        ("东西被偷了，我报案了", "legal_threat", "critical"),
        # threats in the short forms customers write (authored_f, 2026-12-07), and a customer's own threat next to
        # a staff member's suggestion, which alone is not one (R11)
        ("不给退钱我就让律师联系你们", "legal_threat", "critical"),
        ("再不退款咱们工商见", "legal_threat", "critical"),
        ("这事没完，告你们", "legal_threat", "critical"),
        ("不处理我就去工商投诉", "legal_threat", "critical"),
        ("我叫我老公去市场监管局举报你们", "legal_threat", "critical"),
        ("客服让我再等等，我不等了，已经打了12315", "legal_threat", "critical"),
        ("再推来推去，微博见", "media_threat", "critical"),
        ("卖这种东西，等着被曝光吧", "media_threat", "critical"),
        ("冰箱完全不制冷", "unusable", "high"),
        ("电脑开不了机", "unusable", "high"),
        ("快递丢了也没人管", "lost_parcel", "high"),
        ("我要找你们主管", "escalation_words", "high"),
        ("这是第三次联系你们了", "escalation_words", "high"),
    ],
)
def test_cue_rules_raise_urgency(text, rule, level):
    d = POLICY.decide("low", 0.8, ["product_quality"], text)
    assert rule in d.fired, d.reasons
    assert d.urgency == level and d.priority == TAX.priority_from_urgency[level]
    assert any(r.startswith(next(x["reason"] for x in TAX.rules if x["id"] == rule)) for r in d.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "键盘右侧的多媒体按键很炫",  # 媒体 inside 多媒体
        "门口的报警器接触不良，一直响",  # 报警 inside 报警器
        "酒店紧挨着火车站，出行方便",  # 着火 across 紧挨着 + 火车站
        "电池充电到100%还显示在充电",  # 电到 inside 充电到
        "这本书的结局太伤人心了",  # 伤人 inside 伤人心
        # the media mentioned, not threatened (real dev texts) and a camera's exposure (曝光)
        "媒体炒作得太厉害了，慕名买了书",
        "离北京电视台较近，已经住过许多次",
        "似乎打开windows媒体播放器的时间有点长",
        "特别是了解范长江同志这个优秀的记者",
        "拍照曝光准确，夜景也不错",
        "晚上拍照就曝光过度",
        "把相机的曝光调高一点就好",
        "发现小红书上很多人推荐这款",
        "微博上很火的一本书",
        # posting to recommend, not to expose
        "发到小红书上推荐给姐妹们",
        "已经发小红书种草了，闺蜜也想买",
        "拍了视频发抖音安利给朋友们",
        # a scratched surface, a metaphor, a power cut, hurt feelings (real dev texts), not harm
        "钢琴漆面外壳容易划伤",
        "仍然能感受到真理的火花",
        "12点停电到4点，没有任何通知",
        "被揭穿的时候总觉得看起来很伤人",
        # a safety word negated, or a protection against it: praise in a review, not an incident
        "洗面奶很温和，敏感肌用了也不过敏",
        "宝宝喝了一个月了，不上火不便秘，也没过敏",
        "安装师傅测了没有漏电，五星好评",
        "板材无甲醛，味道很小",
        "热水器点不着火，售后说明天来修",
        "带防漏电保护，用着放心",
        "这个插头设计得很好，一点也不危险",
        # a regulator, court or lawyer named without a threat by the customer (R11: staff suggesting it; an
        # occupation, an address, a complaint only considered before the shop fixed it)
        "售后说不满意可以自己去打12315，我只想换个新的",
        "快递员让我去找消协，我就想要个补发",
        "客服的答复是：去12315投诉吧",
        "我哥是做律师的，送他这个钱包很合适",
        "我们律所要采购十台打印机，能开专票吗",
        "收件地址是人民法院家属院3栋",
        "在市场监管局上班的朋友推荐的",
        "本来打算去消协了，后来商家主动退了款",
        "这件外套在抖音曝光率很高",
        "在黑猫投诉上看到有人说发货慢，结果第二天就到了",
        # guideline R14: a bare 不安全, pests only seen, flies over the dishes, figures of speech
        "停车场在马路边，很不安全",
        "屏幕没有锁扣，感觉不安全",
        "房间里有蟑螂，还有好多蚊子",
        "用来吃粥的小菜上空苍蝇飞舞",
        "这本书我是咬着牙看完的",
    ],
)
def test_critical_cues_ignore_look_alike_words(text):
    """A cue inside a longer word that means something else must not make a ticket P1 (a laptop review
    praising its 多媒体 keys was P1 before)."""
    cues = POLICY.find_cues(text)
    assert not {"safety", "legal_threat", "media_threat"} & set(cues), cues
    assert POLICY.decide("low", 0.9, [], text).urgency != "critical"


def test_rules_never_lower_urgency():
    d = POLICY.decide("critical", 0.9, [], "电脑开不了机")
    assert d.urgency == "critical"


def test_anger_raises_one_level_only_with_an_issue_and_not_past_high():
    assert POLICY.decide("low", 0.9, ["logistics"], "快递太慢了！！！").urgency == "medium"
    assert POLICY.decide("medium", 0.9, ["logistics"], "什么破快递，气死了").urgency == "high"
    assert POLICY.decide("high", 0.9, ["logistics"], "气死了！！！").urgency == "high"
    no_issue = POLICY.decide("low", 0.9, [], "这书真垃圾！！！")
    assert no_issue.urgency == "low" and "anger" not in no_issue.fired


def test_cues_work_on_traditional_and_full_width_text():
    d = POLICY.decide("low", 0.9, ["product_quality"], "充電寶冒煙了！！！打１２３１５")
    assert {"safety", "legal_threat"} <= set(d.cues) and d.urgency == "critical"


def test_plain_text_without_cues_has_no_effect():
    d = POLICY.decide("medium", 0.7, ["logistics"], "快递有点慢")
    assert d.urgency == "medium" and d.fired == [] and not d.escalate


# --- ticket context rules (issue #5) ---

from models.policy import TicketContext  # noqa: E402


def test_invoice_only_questions_are_p4_unless_a_safety_cue_wins():
    d = POLICY.decide("medium", 0.7, ["invoice"], "请问发票什么时候开")
    assert d.priority == "P4" and "invoice_only" in d.fired
    assert POLICY.decide("medium", 0.7, ["invoice", "logistics"], "发票和快递都没到").priority != "P4"
    assert POLICY.decide("medium", 0.7, ["invoice"], "发票没开，我要打12315").priority == "P1"


@pytest.mark.parametrize("count, raised", [(0, False), (2, False), (3, True), (10, True)])
def test_repeat_contact_raises_one_level_and_escalates(count, raised):
    d = POLICY.decide("medium", 0.7, ["logistics"], "快递还没到", TicketContext(contact_count=count))
    assert (d.urgency == "high") is raised and d.escalate is raised
    if raised:
        assert any("多次联系" in r and f"#{count}" in r for r in d.reasons)


def test_vip_customer_raises_one_level_with_a_reason():
    d = POLICY.decide("low", 0.7, ["product_quality"], "有点小瑕疵", TicketContext(customer_tier="VIP"))
    assert d.urgency == "medium" and "vip_customer" in d.fired and any("VIP" in r for r in d.reasons)
    assert POLICY.decide("low", 0.7, ["product_quality"], "有点小瑕疵",
                         TicketContext(customer_tier="normal")).urgency == "low"


def test_high_value_order_raises_one_level():
    assert POLICY.decide("medium", 0.7, ["product_quality"], "有划痕", TicketContext(order_value=8999)).urgency == "high"
    assert POLICY.decide("medium", 0.7, ["product_quality"], "有划痕", TicketContext(order_value=99)).urgency == "medium"


def test_public_channel_complaint_is_at_least_high_and_escalated():
    d = POLICY.decide("low", 0.7, ["customer_service"], "客服不理人", TicketContext(channel="Weibo"))
    assert d.urgency == "high" and d.escalate and "public_channel" in d.fired


def test_context_raises_never_reach_critical():
    ctx = TicketContext(contact_count=5, customer_tier="svip", order_value=10000, channel="douyin")
    d = POLICY.decide("low", 0.7, ["logistics"], "快递太慢了！！！", ctx)
    assert d.urgency == "high" and d.priority == "P2"


def test_ticket_context_from_dataframe_rows_tolerates_missing_values():
    ctx = TicketContext.from_row({"contact_count": float("nan"), "order_value": "12.5", "customer_tier": " VIP ",
                                  "channel": None})
    assert ctx == TicketContext(customer_tier="vip", contact_count=None, order_value=12.5, channel=None)


def test_every_rule_in_the_taxonomy_has_a_test_here():
    import pathlib

    source = pathlib.Path(__file__).read_text(encoding="utf-8")
    for rule in TAX.rules:
        assert rule["id"] in source, f"rule {rule['id']} has no test"


def test_unknown_rule_conditions_fail_loading():
    from models.taxonomy import Taxonomy

    raw = TAX.to_dict()
    raw["rules"] = [{"id": "typo", "when": {"contact_count_atleast": 3}, "raise_levels": 1, "reason": "x"}]
    with pytest.raises(ValueError, match="unknown condition"):
        Taxonomy.from_dict(raw)


@pytest.mark.parametrize("text, cue", [
    ("我要找媒体曝光你们", "media_threat"), ("被充电器电到手了", "safety"), ("屋里着火了", "safety"),
    ("已经报警了", "legal_threat"),
    # negation only right before the word: harm said after a negated word, or in other words, still counts
    ("不过过敏了，脸上全是疹子", "safety"), ("这个插座太不安全了", "safety"), ("用了两天就过敏", "safety"),
    ("吃了全身起红疙瘩还胸闷", "safety"), ("装完厨房里一直有煤气味", "safety"), ("穿了三天浑身起风团", "safety"),
    # guideline R14 (v2.2): symptoms from a smell, pests on or in food, bites in other words, a socket named
    ("味道也很大，看一会就眼睛疼", "safety"), ("刺鼻的气味熏得头疼", "safety"), ("汤里有只苍蝇", "safety"),
    ("看到小苍蝇叮在食物上", "safety"), ("晚上都被蚊子咬醒", "safety"), ("每晚遭到蚊子攻击", "safety"),
    ("插座就在花洒上方，太危险了", "safety"),
])
def test_the_words_themselves_still_match(text, cue):
    assert cue in POLICY.find_cues(text)


def _with_rules(*rules):
    """The repository's taxonomy with ``rules`` placed before its own."""
    from models.taxonomy import Taxonomy

    raw = TAX.to_dict()
    raw["rules"] = [*rules, *raw["rules"]]
    return PriorityPolicy(Taxonomy.from_dict(raw))


def test_praise_only_caps_praise_without_an_issue_but_cues_still_raise_it():
    policy = POLICY
    assert TAX.rules[0]["id"] == "praise_only"  # before every rule that raises
    d = policy.decide("critical", 0.4, [], "发到小红书上推荐给姐妹们", sentiment="positive")
    assert d.urgency == "low" and d.priority == "P4" and d.fired == ["praise_only"]
    assert any("好评且无问题" in r for r in d.reasons)
    # negated safety words in praise: P4 whatever the model says (the cue ignores them, the cap lowers)
    d = policy.decide("critical", 0.97, [], "洗面奶很温和，敏感肌用了也不过敏", sentiment="positive")
    assert d.priority == "P4" and d.fired == ["praise_only"]
    # it needs both: no issue type and a positive prediction
    assert policy.decide("critical", 0.4, ["product_quality"], "杯子漏水", sentiment="positive").urgency == "critical"
    assert policy.decide("critical", 0.4, [], "杯子漏水", sentiment="negative").urgency == "critical"
    assert policy.decide("critical", 0.4, [], "杯子漏水").urgency == "critical"  # no sentiment given: no cap
    # a safety word or a threat in praise still makes it critical (the rules after the cap win)
    safety = policy.decide("low", 0.9, [], "宝宝很喜欢，就是充电时有点冒烟", sentiment="positive")
    assert safety.urgency == "critical" and "safety_words" in safety.fired
    threat = policy.decide("low", 0.9, [], "东西不错，不过客服说不给发票我就打12315", sentiment="positive")
    assert threat.urgency == "critical" and "legal_threat" in threat.fired


def test_has_issue_false_and_sentiment_conditions_and_their_validation():
    from models.taxonomy import Taxonomy

    raw = TAX.to_dict()
    raw["rules"] = [{"id": "quiet", "when": {"has_issue": False, "sentiment": ["neutral"]}, "cap_urgency": "medium",
                     "reason": "x"}]
    policy = PriorityPolicy(Taxonomy.from_dict(raw))
    assert policy.decide("high", 0.9, [], "请问", sentiment="neutral").urgency == "medium"
    assert policy.decide("high", 0.9, ["logistics"], "请问", sentiment="neutral").urgency == "high"
    assert policy.decide("high", 0.9, [], "请问", sentiment="positive").urgency == "high"
    raw["rules"][0]["when"]["sentiment"] = ["happy"]
    with pytest.raises(ValueError, match="unknown sentiment"):
        Taxonomy.from_dict(raw)


def test_results_pass_the_predicted_sentiment_to_the_policy():
    import numpy as np

    from models.analyzer import HeadOutputs
    from models.results import build_results

    tax = TAX
    n_issue = len(tax.issue_type_ids)
    sentiment = np.array([[0.05, 0.05, 0.9], [0.9, 0.05, 0.05]])  # positive, negative (taxonomy order)
    assert tax.sentiment_ids == ["negative", "neutral", "positive"]
    outputs = HeadOutputs(issue_proba=np.zeros((2, n_issue)), issue_thresholds=np.full(n_issue, 0.5),
                          sentiment_proba=sentiment, urgency_proba=np.tile([0.7, 0.1, 0.1, 0.1], (2, 1)))
    praise, complaint = build_results(["a", "b"], ["推荐给姐妹们", "推荐给姐妹们"], outputs, tax)
    assert praise["priority"] == "P4" and praise["sentiment"]["label"] == "positive"
    assert complaint["priority"] == "P1"


def test_served_level_table_is_the_decision_for_each_model_level():
    """Row i, column k: the level `decide` serves for text i when the model says level k, rules included."""
    texts = ["电池鼓包还冒烟，差点着火", "请问发票什么时候开", "衣服质量很好，好评", "请问什么时候发货", "快递三天还没到"]
    issue_types = [["product_quality"], ["invoice"], [], [], ["logistics"]]
    sentiments = ["negative", "neutral", "positive", "neutral", "negative"]
    table = POLICY.served_level_table(texts, issue_types, sentiments)
    levels = TAX.urgency_ids
    assert table.shape == (len(texts), len(levels))
    for i, text in enumerate(texts):
        for k, level in enumerate(levels):
            served = POLICY.decide(level, 1.0, issue_types[i], text, sentiment=sentiments[i]).urgency
            assert table[i, k] == levels.index(served)
    assert table[0].tolist() == [0, 0, 0, 0]  # safety words: critical whatever the model says
    assert table[1].tolist() == [3, 3, 3, 3]  # invoice-only: capped to low
    assert table[2].tolist() == [3, 3, 3, 3]  # praise without an issue: capped to low
    assert table[3].tolist() == [0, 1, 2, 3]  # no rule fires
    context = [TicketContext(contact_count=5)] * len(texts)
    raised = POLICY.served_level_table(texts, issue_types, sentiments, context)
    assert raised[3].tolist() == [0, 1, 1, 2] and raised[4].tolist() == [0, 1, 1, 2]  # one level, not past high

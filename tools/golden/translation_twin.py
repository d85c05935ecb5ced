"""The PyTorch twin of cformer's TranslationModel (include/cformer/models/translation.h):
torch.nn.Transformer(batch_first=True) under the name "transformer", embeddings scaled by
sqrt(d_model) plus sinusoidal or learned positions, output projection tied to the target
embedding or a bias-free generator. Parameter names equal cformer's, so a state dict maps 1:1.
Config keys are those of TranslationConfig::to_json. Run with /usr/bin/python3 (torch 1.13)."""
import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoids(max_len, d):
    """pe[t, 2i] = sin(t / 10000^(2i/d)), pe[t, 2i+1] = cos(t / 10000^(2i/d)), in float64."""
    t = torch.arange(max_len, dtype=torch.float64)[:, None]
    i = torch.arange(d, dtype=torch.float64)[None, :]
    freq = torch.exp(-math.log(10000.0) * (i - i % 2) / d)
    a = t * freq
    return torch.where(i % 2 == 0, torch.sin(a), torch.cos(a))


class TranslationTwin(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        e = c["d_model"]
        if c["share_embeddings"]:
            self.shared_embed = nn.Embedding(c["src_vocab_size"], e)
        else:
            self.src_embed = nn.Embedding(c["src_vocab_size"], e)
            self.tgt_embed = nn.Embedding(c["tgt_vocab_size"], e)
        if c["positions"] == "learned":
            self.src_pos = nn.Module()
            self.src_pos.weight = nn.Parameter(torch.randn(c["max_positions"], e) * e ** -0.5)
            self.tgt_pos = nn.Module()
            self.tgt_pos.weight = nn.Parameter(torch.randn(c["max_positions"], e) * e ** -0.5)
        else:
            self.register_buffer("pe", sinusoids(c["max_positions"], e), persistent=False)
        self.transformer = nn.Transformer(
            d_model=e, nhead=c["nhead"], num_encoder_layers=c["num_encoder_layers"],
            num_decoder_layers=c["num_decoder_layers"], dim_feedforward=c["dim_feedforward"],
            dropout=c["dropout"], batch_first=True, norm_first=c["norm_first"])
        if not c["tie_output"]:
            self.generator = nn.Linear(e, c["tgt_vocab_size"], bias=False)

    def embeds(self):
        if self.c["share_embeddings"]:
            return self.shared_embed, self.shared_embed
        return self.src_embed, self.tgt_embed

    def positions(self, which, n):
        if self.c["positions"] == "learned":
            return getattr(self, which).weight[:n]
        return self.pe[:n].to(self.transformer.encoder.norm.weight.dtype)

    def forward(self, src, tgt_in):
        pad, e = self.c["pad_id"], self.c["d_model"]
        src_embed, tgt_embed = self.embeds()
        x = src_embed(src) * math.sqrt(e) + self.positions("src_pos", src.shape[1])
        y = tgt_embed(tgt_in) * math.sqrt(e) + self.positions("tgt_pos", tgt_in.shape[1])
        T = tgt_in.shape[1]
        causal = torch.ones(T, T, dtype=torch.bool).triu(1)  # True = not allowed
        src_kpm, tgt_kpm = src == pad, tgt_in == pad
        h = self.transformer(x, y, tgt_mask=causal, src_key_padding_mask=src_kpm,
                             tgt_key_padding_mask=tgt_kpm, memory_key_padding_mask=src_kpm)
        w = tgt_embed.weight if self.c["tie_output"] else self.generator.weight
        return h @ w.t()

    def loss(self, src, tgt_in, tgt_out, label_smoothing):
        logits = self(src, tgt_in)
        return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                                       ignore_index=self.c["pad_id"],
                                       label_smoothing=label_smoothing)

"""BERT parity data: a PyTorch twin with Hugging Face's module structure and parameter names
(BertModel, BertForPreTraining, BertForSequenceClassification; `transformers` is not needed) on
a padded batch with token types and masked-LM labels. Written to OUT/bert/:
  bert_parity.safetensors  init.* weights, inputs, sequence / pooled outputs, MLM logits at the
                           labelled positions, MLM / NSP / total loss, every parameter gradient,
                           the outputs under a mask with a hole (the composite attention path),
                           and the classifier's logits, loss and gradients (cls_*)
  hf/model.safetensors     the same BertForPreTraining weights as an HF checkpoint stores them
                           (position_ids buffer, tied decoder weight and bias written out)."""
import json
import math
import os

import numpy as np
import torch
from torch import nn

from golden import write_safetensors


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, ids, types):
        pos = torch.arange(ids.shape[1])[None, :]
        x = self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(types)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh = c["num_attention_heads"]
        self.hs = c["hidden_size"] // self.nh
        self.query = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.key = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.value = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.dropout = nn.Dropout(c["attention_probs_dropout_prob"])

    def heads(self, x):
        B, T, _ = x.shape
        return x.view(B, T, self.nh, self.hs).permute(0, 2, 1, 3)

    def forward(self, x, ext_mask):
        q, k, v = self.heads(self.query(x)), self.heads(self.key(x)), self.heads(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.hs) + ext_mask
        p = self.dropout(torch.softmax(scores, dim=-1))
        y = (p @ v).permute(0, 2, 1, 3).contiguous()
        return y.view(x.shape)


class BertSelfOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, h, x):
        return self.LayerNorm(self.dropout(self.dense(h)) + x)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c)

    def forward(self, x, ext_mask):
        return self.output(self.self(x, ext_mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(self, x):
        return torch.nn.functional.gelu(self.dense(x))


class BertOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["intermediate_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, h, x):
        return self.LayerNorm(self.dropout(self.dense(h)) + x)


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertOutput(c)

    def forward(self, x, ext_mask):
        a = self.attention(x, ext_mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, x, ext_mask):
        for l in self.layer:
            x = l(x, ext_mask)
        return x


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def forward(self, ids, types, mask):
        # HF's get_extended_attention_mask: (1 - mask) * finfo.min added to the scores.
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        x = self.encoder(self.embeddings(ids, types), ext)
        return x, self.pooler(x)


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, x):
        return self.LayerNorm(torch.nn.functional.gelu(self.dense(x)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transform = BertPredictionHeadTransform(c)
        self.decoder = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        self.bias = nn.Parameter(torch.zeros(c["vocab_size"]))
        self.decoder.bias = self.bias

    def forward(self, x):
        return self.decoder(self.transform(x))


class BertPreTrainingHeads(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.predictions = BertLMPredictionHead(c)
        self.seq_relationship = nn.Linear(c["hidden_size"], 2)


class BertForPreTraining(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c)
        self.cls = BertPreTrainingHeads(c)
        self.cls.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight

    def forward(self, ids, types, mask, labels, nsp_labels):
        seq, pooled = self.bert(ids, types, mask)
        logits = self.cls.predictions(seq)  # HF: every position, -100 ignored by the loss
        V = logits.shape[-1]
        mlm_loss = torch.nn.functional.cross_entropy(logits.view(-1, V), labels.view(-1), ignore_index=-100)
        nsp_logits = self.cls.seq_relationship(pooled)
        nsp_loss = torch.nn.functional.cross_entropy(nsp_logits, nsp_labels)
        return seq, pooled, logits, mlm_loss, nsp_logits, nsp_loss


class BertForSequenceClassification(nn.Module):
    def __init__(self, c, num_labels):
        super().__init__()
        self.bert = BertModel(c)
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])
        self.classifier = nn.Linear(c["hidden_size"], num_labels)

    def forward(self, ids, types, mask):
        return self.classifier(self.dropout(self.bert(ids, types, mask)[1]))


def main(out_dir):
    d = os.path.join(out_dir, "bert")
    os.makedirs(os.path.join(d, "hf"), exist_ok=True)
    torch.manual_seed(0)
    c = dict(vocab_size=67, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
             intermediate_size=48, max_position_embeddings=16, type_vocab_size=2,
             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, layer_norm_eps=1e-12,
             initializer_range=0.02)
    model = BertForPreTraining(c)
    with torch.no_grad():  # HF-like init, then non-trivial norms and biases so all of them matter
        for n, p in model.named_parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.2 if "embeddings" in n else 0.1)
            elif n.endswith("LayerNorm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape))
            else:
                p.copy_(0.1 * torch.randn(p.shape))
    model.eval()
    rng = np.random.default_rng(11)
    B, T = 3, 12
    lengths = [12, 8, 10]
    ids = rng.integers(5, c["vocab_size"], (B, T)).astype(np.int64)
    mask = np.zeros((B, T), np.int64)
    types = np.zeros((B, T), np.int64)
    labels = np.full((B, T), -100, np.int64)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        ids[b, n:] = 0
        types[b, n // 2:n] = 1
        for t in rng.choice(np.arange(1, n), 3, replace=False):
            labels[b, t] = rng.integers(5, c["vocab_size"])
    nsp = np.array([0, 1, 1], np.int64)
    holed = mask.copy()
    holed[0, 3] = 0
    holed[2, 5] = 0
    tt = {k: torch.from_numpy(v) for k, v in
          dict(ids=ids, mask=mask, types=types, labels=labels, nsp=nsp, holed=holed).items()}
    tensors = [("input_ids", ids), ("attention_mask", mask), ("token_type_ids", types),
               ("mlm_labels", labels), ("nsp_labels", nsp), ("holed_mask", holed)]
    tensors += [("init." + n, p.detach().numpy().copy()) for n, p in model.named_parameters()]
    seq, pooled, logits, mlm_loss, nsp_logits, nsp_loss = model(
        tt["ids"], tt["types"], tt["mask"], tt["labels"], tt["nsp"])
    loss = mlm_loss + nsp_loss
    loss.backward()
    sel = labels.reshape(-1) != -100
    tensors += [("sequence_output", seq.detach().numpy()), ("pooled_output", pooled.detach().numpy()),
                ("mlm_logits", logits.detach().numpy().reshape(B * T, -1)[sel]),
                ("mlm_loss", mlm_loss.detach().numpy()), ("nsp_logits", nsp_logits.detach().numpy()),
                ("nsp_loss", nsp_loss.detach().numpy()), ("loss", loss.detach().numpy())]
    tensors += [("grad." + n, p.grad.numpy().copy()) for n, p in model.named_parameters()]
    with torch.no_grad():
        hs, hp = model.bert(tt["ids"], tt["types"], tt["holed"])
    tensors += [("holed_sequence_output", hs.numpy()), ("holed_pooled_output", hp.numpy())]

    # Sequence classification: the same encoder weights, a fresh classifier, 3 labels.
    cls = BertForSequenceClassification(c, 3)
    cls.bert.load_state_dict(model.bert.state_dict())
    with torch.no_grad():
        cls.classifier.weight.normal_(0.0, 0.3)
        cls.classifier.bias.copy_(0.1 * torch.randn(3))
    cls.eval()
    cls_labels = np.array([2, 0, 1], np.int64)
    cls_logits = cls(tt["ids"], tt["types"], tt["mask"])
    cls_loss = torch.nn.functional.cross_entropy(cls_logits, torch.from_numpy(cls_labels))
    cls_loss.backward()
    tensors += [("cls_labels", cls_labels), ("cls_init.classifier.weight", cls.classifier.weight.detach().numpy().copy()),
                ("cls_init.classifier.bias", cls.classifier.bias.detach().numpy().copy()),
                ("cls_logits", cls_logits.detach().numpy()), ("cls_loss", cls_loss.detach().numpy())]
    tensors += [("cls_grad." + n, p.grad.numpy().copy()) for n, p in cls.named_parameters()]
    write_safetensors(os.path.join(d, "bert_parity.safetensors"), tensors, {"config": json.dumps(c)})

    # As an HF checkpoint (state_dict: buffers and the tied decoder written out).
    hf = [(n, t.detach().numpy().copy()) for n, t in model.state_dict().items()]
    hf.append(("bert.embeddings.position_ids", np.arange(c["max_position_embeddings"], dtype=np.int64)[None]))
    write_safetensors(os.path.join(d, "hf", "model.safetensors"), hf, {"format": "pt"})
    with open(os.path.join(d, "hf", "config.json"), "w") as f:
        json.dump(dict(c, model_type="bert", hidden_act="gelu", architectures=["BertForPreTraining"]), f)


if __name__ == "__main__":
    import sys
    main(sys.argv[1])

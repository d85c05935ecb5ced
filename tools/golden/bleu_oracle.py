#!/usr/bin/env python3
"""BLEU and chrF written from sacreBLEU 2.x's published definitions (sacrebleu/tokenizers/
tokenizer_13a.py, tokenizer_re.py, metrics/bleu.py, metrics/chrf.py, helpers.py), standard
library only: the oracle of tests/metrics/test_bleu.cpp.

Usage: bleu_oracle.py IN.json > OUT.json
  IN:  {"hyps": [str], "refs": [[str] per reference stream]}
  OUT: {"bleu": {smooth: {"score", "precisions", "bp", "hyp_len", "ref_len", "correct",
        "total"}} for smooth in none/exp/floor/add-k, "bleu_tok_none": {...} (smooth none),
        "chrf": {"score", "hyp", "ref", "match"}, "chrf_eps": score, "chrf_space": score,
        "tok13a": [tokenized hyps]}
"""
import json
import math
import re
import sys
from collections import Counter

# --- tokenizer 13a -------------------------------------------------------------------------
_RE_13A = [
    # language-dependent part (assuming Western languages)
    (re.compile(r'([\{-\~\[-\` -\&\(-\+\:-\@\/])'), r' \1 '),
    # tokenize period and comma unless preceded by a digit
    (re.compile(r'([^0-9])([\.,])'), r'\1 \2 '),
    # tokenize period and comma unless followed by a digit
    (re.compile(r'([\.,])([^0-9])'), r' \1 \2'),
    # tokenize dash when preceded by a digit
    (re.compile(r'([0-9])(-)'), r'\1 \2 '),
]


def tokenize_13a(line):
    line = line.replace('<skipped>', '')
    line = line.replace('-\n', '')
    line = line.replace('\n', ' ')
    if '&' in line:
        line = line.replace('&quot;', '"')
        line = line.replace('&amp;', '&')
        line = line.replace('&lt;', '<')
        line = line.replace('&gt;', '>')
    line = f' {line} '
    for regex, repl in _RE_13A:
        line = regex.sub(repl, line)
    return ' '.join(line.split())


# --- BLEU ----------------------------------------------------------------------------------
MAX_ORDER = 4
SMOOTH_DEFAULTS = {'none': None, 'floor': 0.1, 'add-k': 1, 'exp': None}


def extract_all_word_ngrams(line, min_order, max_order):
    counter = Counter()
    tokens = line.split()
    for n in range(min_order, max_order + 1):
        for i in range(0, len(tokens) - n + 1):
            counter[tuple(tokens[i:i + n])] += 1
    return counter, len(tokens)


def closest_ref_len(hyp_len, ref_lens):
    closest_diff, closest_len = -1, -1
    for ref_len in ref_lens:
        diff = abs(hyp_len - ref_len)
        if closest_diff == -1 or diff < closest_diff:
            closest_diff, closest_len = diff, ref_len
        elif diff == closest_diff and ref_len < closest_len:
            closest_len = ref_len
    return closest_len


def segment_refs(refs, i):
    lines = [stream[i] for stream in refs if stream[i] is not None and stream[i] != '']
    if not lines:
        raise RuntimeError('Empty or `None` reference sentence found.')
    return lines


def bleu_stats(hyps, refs, tok):
    sys_len = ref_len = 0
    correct = [0] * MAX_ORDER
    total = [0] * MAX_ORDER
    for i, hyp in enumerate(hyps):
        ref_ngrams, ref_lens = None, []
        for ref in segment_refs(refs, i):
            this_ngrams, this_len = extract_all_word_ngrams(tok(ref.rstrip()), 1, MAX_ORDER)
            ref_lens.append(this_len)
            if ref_ngrams is None:
                ref_ngrams = this_ngrams
            else:
                for ngram, count in this_ngrams.items():
                    ref_ngrams[ngram] = max(ref_ngrams[ngram], count)
        hyp_ngrams, hyp_len = extract_all_word_ngrams(tok(hyp.rstrip()), 1, MAX_ORDER)
        sys_len += hyp_len
        ref_len += closest_ref_len(hyp_len, ref_lens)
        for ngram, count in hyp_ngrams.items():
            n = len(ngram) - 1
            total[n] += count
            if ngram in ref_ngrams:
                correct[n] += min(count, ref_ngrams[ngram])
    return sys_len, ref_len, correct, total


def my_log(num):
    return -9999999999 if num == 0.0 else math.log(num)


def compute_bleu(correct, total, sys_len, ref_len, smooth_method='none', smooth_value=None):
    correct, total = list(correct), list(total)
    if smooth_value is None:
        smooth_value = SMOOTH_DEFAULTS[smooth_method]
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    else:
        bp = 1.0
    precisions = [0.0] * MAX_ORDER
    out = {'bp': bp, 'hyp_len': sys_len, 'ref_len': ref_len, 'correct': correct[:],
           'total': total[:]}
    if not any(correct):
        return dict(out, score=0.0, precisions=precisions)
    smooth_mteval = 1.0
    for n in range(1, MAX_ORDER + 1):
        if smooth_method == 'add-k' and n > 1:
            correct[n - 1] += smooth_value
            total[n - 1] += smooth_value
        if total[n - 1] == 0:
            break
        if correct[n - 1] == 0:
            if smooth_method == 'exp':
                smooth_mteval *= 2
                precisions[n - 1] = 100. / (smooth_mteval * total[n - 1])
            elif smooth_method == 'floor':
                precisions[n - 1] = 100. * smooth_value / total[n - 1]
        else:
            precisions[n - 1] = 100. * correct[n - 1] / total[n - 1]
    score = bp * math.exp(sum(my_log(p) for p in precisions) / MAX_ORDER)
    return dict(out, score=score, precisions=precisions)


# --- chrF ----------------------------------------------------------------------------------
def extract_all_char_ngrams(line, max_order, include_whitespace=False):
    if not include_whitespace:
        line = ''.join(line.split())
    return [Counter(line[i:i + order] for i in range(len(line) - order + 1))
            for order in range(1, max_order + 1)]


def chrf_f_score(stats, order, beta=2, eps_smoothing=False):
    eps = 1e-16
    score = 0.0
    effective_order = 0
    factor = beta ** 2
    avg_prec = avg_rec = 0.0
    for i in range(order):
        n_hyp, n_ref, n_match = stats[3 * i:3 * i + 3]
        prec = n_match / n_hyp if n_hyp > 0 else eps
        rec = n_match / n_ref if n_ref > 0 else eps
        denom = factor * prec + rec
        if eps_smoothing:
            score += ((1 + factor) * prec * rec / denom) if denom > 0 else eps
            continue
        if n_hyp > 0 and n_ref > 0:
            avg_prec += prec
            avg_rec += rec
            effective_order += 1
    if eps_smoothing:
        return 100 * score / order
    if effective_order == 0:
        avg_prec = avg_rec = 0.0
    else:
        avg_prec /= effective_order
        avg_rec /= effective_order
    if avg_prec + avg_rec:
        return 100 * (1 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec)
    return 0.0


def chrf_stats(hyps, refs, order=6, whitespace=False, eps_smoothing=False):
    totals = [0] * (3 * order)
    for i, hyp in enumerate(hyps):
        hyp_ngrams = extract_all_char_ngrams(hyp, order, whitespace)
        best_f, best = -1.0, None
        for ref in segment_refs(refs, i):
            ref_ngrams = extract_all_char_ngrams(ref, order, whitespace)
            stats = []
            for h, r in zip(hyp_ngrams, ref_ngrams):
                stats += [sum(h.values()), sum(r.values()),
                          sum(min(v, r[k]) for k, v in h.items() if k in r)]
            f = chrf_f_score(stats, order, eps_smoothing=eps_smoothing)
            if f > best_f:
                best_f, best = f, stats
        totals = [a + b for a, b in zip(totals, best)]
    return totals


def main():
    with open(sys.argv[1], encoding='utf-8') as f:
        data = json.load(f)
    hyps, refs = data['hyps'], data['refs']
    sys_len, ref_len, correct, total = bleu_stats(hyps, refs, tokenize_13a)
    out = {'bleu': {m: compute_bleu(correct, total, sys_len, ref_len, m)
                    for m in SMOOTH_DEFAULTS}}
    sys_len, ref_len, correct, total = bleu_stats(hyps, refs, lambda s: s)
    out['bleu_tok_none'] = compute_bleu(correct, total, sys_len, ref_len)
    stats = chrf_stats(hyps, refs)
    out['chrf'] = {'score': chrf_f_score(stats, 6), 'hyp': stats[0::3], 'ref': stats[1::3],
                   'match': stats[2::3]}
    out['chrf_eps'] = chrf_f_score(chrf_stats(hyps, refs, eps_smoothing=True), 6,
                                   eps_smoothing=True)
    out['chrf_space'] = chrf_f_score(chrf_stats(hyps, refs, whitespace=True), 6)
    out['tok13a'] = [tokenize_13a(h) for h in hyps]
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == '__main__':
    main()

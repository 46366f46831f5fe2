"""Train the demo model from scratch: ``python -m qaaudit.demo.train [--out DIR] [--steps N]``.

Generates the data (qaaudit.demo.data), trains a WordPiece tokenizer on it, trains a small
ElectraForQuestionAnswering on 2 CPU threads with fixed seeds, and writes a ``save_pretrained``
directory (config, model.safetensors, tokenizer files) plus ``train_log.json``.

The defaults reproduce the shipped model. Three parts of the recipe break the name-matching plateau that
plain training sits on (token EM 0.30-0.38 on dev: the right kind of fact, for a random one of the 2-3 people);
measured on dev token EM after 6000 steps of batch 16 on 60,000 examples (about 8 min on 2 threads):

- ``--match-init`` (on): word and position embeddings start in disjoint halves of the dimensions and two heads
  per layer start as copy detectors (equal query and key projections of the word half), so a token attends to
  its copies, e.g. from the context's mention of a name to the question's. Alone: 0.379.
- ``--aux-match W`` (1.0): a training-only linear probe on hidden state ``--aux-layer`` (2) tags the question
  entity's mentions (the full name, an English surname alone) in question and context, a dense signal for the
  matching the answer depends on; the probe is not saved. Alone: 0.37 after 3000 steps; with match-init 0.79.
- Name pieces in the tokenizer: ``segmented_corpus`` cuts two-piece names (Var|dren, 모래|정원), so a training
  name splits like an unseen one (Var ##dren) instead of becoming one token the model memorises. With both of
  the above: 0.926 (test EM on seen templates ko 94.2 / en 93.1, on held-out templates 25.5 / 57.5).
- ``--question-noise P`` (0.2): a share of the question's words (never the entity) become random tokens, so
  held-out templates' unknown words (출생지, occupation) do not derail the answer. At 0.15: dev 0.935, held-out
  templates ko 56.3 / en 60.8, seen 93.2 / 92.8.

The tokenizer's vocabulary is built deterministically (``train_tokenizer``). With ``tokenizers``' WordPiece
trainer, two runs of this command gave test EM ko 85.5 / 82.2 and en 89.5 / 91.8: its ties follow a per-process
hash order, so the vocabularies differed in 18 tokens and 744 ids. Whole words only (6000): ko 82.7 / en 86.6;
with word stems and non-Hangul endings (8000, the default): ko 82.1 / en 91.0 on the data of that time, whose
Korean held-out templates scored 44%: only the birth questions used the polite endings (나요), so the model read
"##나요" as "a birth question" and answered "언제 데뷔했나요?" with a birth date. With five templates per fact and
every ending style spread over several facts (``data._KO_Q``; the held-out one recombines training words), the
same recipe gives test EM ko 97.4 / en 97.4, held-out templates 94.0 / 93.5, and 95.0 / 86.9 on probe templates
whose key words no split uses (the shipped model).

``--device cuda`` trains on a GPU for quick recipe sweeps: same data, seeds and steps, but not the CPU run's
numbers (the shipped model is the CPU run).

Levers that did not help, all off by default:

- ``--easy-steps N``: a curriculum, the first N steps on ``generate(..., easy=True)`` two-person paragraphs.
  Without match-init and the probe, easy-dev token EM stayed at ~0.43 (chance between two people).
- ``--pointer-steps N`` (``--pointer-only``): the first N steps mix in (or train only on) name-pointer
  questions (the question is a name, the answer its first mention); dev token EM 0.31-0.35 afterwards.
- ``--sinusoidal-positions``: a sinusoidal start for the (trainable) position table; 0.376 with match-init.
- Question endings varied within each fact, three templates per fact (습니까 / 나요 / bare "...은?"; "of X" /
  "X's"): one run with the WordPiece trainer gave ko 86.2 / en 90.9, within the spread that trainer alone caused,
  and a model that put less attribution on the question (11 audits failed, most of them lookup cases'
  question-focus checks). The shipped five-template data does not have that cost (6 audits failed at first, on
  borderline attribution shares and two robustness edits; they are xfails with the measured reason).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import ElectraConfig, ElectraForQuestionAnswering, ElectraTokenizerFast

from qaaudit.demo import demo_model_path
from qaaudit.demo.data import Example, alphabet, generate, mention_spans, name_pieces, segmented_corpus

__all__ = ["SPECIALS", "train_tokenizer", "encode_examples", "build_model", "main"]

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # [PAD] = 0 (the notebook's IG baseline token)
MAX_LEN = 192
# what follows a value in the Korean templates (particles, copula, counters)
KO_SUFFIXES = ("은", "는", "이", "가", "을", "를", "과", "와", "으로", "로", "의", "에", "에서", "이다", "다", "인",
               "년", "명", "월", "일", "인조")
SEED = 13


def _pieces(counts: Counter[str]) -> Counter[str]:
    """Candidate vocabulary entries with their corpus counts: whole words, their word-initial stems (2+ Hangul
    syllables, 3+ other characters) and, outside Hangul, their ``##`` endings (3+ characters), so that an unseen
    or misspelled word splits into known parts (데뷔했 ##나 ##요, birth ##day) rather than characters. No Hangul
    endings: one would join a name's last syllable to its particle (정민 ##서는), and a span could not end on the
    name; Korean continuations stay single syllables and the particles."""
    out: Counter[str] = Counter()
    for word, n in counts.items():
        out[word] += n
        hangul = _is_hangul(word[0])
        for k in range(1, len(word)):
            head, tail = word[:k], word[k:]
            if len(head) >= (2 if hangul else 3):
                out[head] += n
            if not hangul and len(tail) >= 3:
                out["##" + tail] += n
    return out


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


def train_tokenizer(texts: Sequence[str], vocab_size: int = 8000) -> ElectraTokenizerFast:
    """A cased WordPiece tokenizer whose vocabulary holds every character the generator can produce.

    The vocabulary is built here rather than by ``tokenizers``' WordPieceTrainer, whose tie-breaking follows
    Rust's per-process hash order: two runs of the training command gave vocabularies that differed in 18
    tokens and 744 ids, and models whose test EM differed by 3.3 points (ko) and 2.3 (en). Here: the special
    tokens; every character word-initially and as a continuation; the particles and endings as continuations;
    the pieces of two-piece names; then whole words of the corpus and their stems and endings, most frequent first
    (ties by the string), up to ``vocab_size``. Words outside it split greedily into those pieces, as WordPiece
    does.
    """
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    # no lowercasing and no accent stripping: NFD accent stripping would split Hangul syllables into jamo
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=False, lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    chars = sorted(alphabet())
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(w for w, _ in tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(text)))
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    # every character both word-initial and as a continuation piece, so unseen names never become [UNK];
    # particles and endings also as continuations (광주 ##에서)
    extra = [p for c in chars if not c.isspace() for p in (c, "##" + c)]
    extra += ["##" + t for t in KO_SUFFIXES]
    # the pieces of two-piece names: Var ##dren, 모래 ##정원 (segmented_corpus never shows them joined)
    extra += list(dict.fromkeys(p for a, b in name_pieces().values() for p in (a, "##" + b)))
    for piece in extra:
        vocab.setdefault(piece, len(vocab))
    for piece, _ in sorted(_pieces(counts).items(), key=lambda pc: (-pc[1], pc[0])):
        if len(vocab) >= vocab_size:
            break
        vocab.setdefault(piece, len(vocab))
    tok.model = models.WordPiece(vocab, unk_token="[UNK]", continuing_subword_prefix="##")
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece(prefix="##")
    # tokenizer_object: ElectraTokenizerFast(vocab_file=...) ignores the vocabulary in transformers 5
    return ElectraTokenizerFast(tokenizer_object=tok, do_lower_case=False, strip_accents=False,
                                tokenize_chinese_chars=True, unk_token="[UNK]", sep_token="[SEP]",
                                pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]",
                                model_max_length=512)


def encode_examples(tokenizer: ElectraTokenizerFast, examples: Sequence[Example], max_len: int = MAX_LEN
                    ) -> dict[str, np.ndarray]:
    """Token ids (unpadded, object array) and start/end labels; unanswerable or truncated answers -> [CLS] (0)."""
    enc = tokenizer([e.question for e in examples], [e.context for e in examples], truncation="only_second",
                    max_length=max_len, return_offsets_mapping=True)
    starts, ends, ids, tts, mentions = [], [], [], [], []
    for i, e in enumerate(examples):
        offsets, seq = enc["offset_mapping"][i], enc.sequence_ids(i)
        spans = (mention_spans(e.question, e), mention_spans(e.context, e))
        mentions.append([int(sid is not None and any(a < o[1] and o[0] < b for a, b in spans[sid]))
                         for o, sid in zip(offsets, seq)])
        s_tok = e_tok = 0
        if e.answers:
            text, a = e.answers[0]
            b = a + len(text)
            for t, (o, sid) in enumerate(zip(offsets, seq)):
                if sid != 1:
                    continue
                if o[0] <= a < o[1]:
                    s_tok = t
                if o[0] < b <= o[1]:
                    e_tok = t
            if not (s_tok and e_tok):
                s_tok = e_tok = 0  # answer cut off by truncation
        starts.append(s_tok)
        ends.append(e_tok)
        ids.append(enc["input_ids"][i])
        tts.append(enc["token_type_ids"][i])
    return {"input_ids": ids, "token_type_ids": tts, "start": np.array(starts), "end": np.array(ends),
            "mention": mentions}


def pointer_examples(examples: Sequence[Example]) -> list[Example]:
    """Name-matching curriculum: the question is the entity's name, the answer its first mention."""
    out = []
    for e in examples:
        i = e.context.find(e.entity) if e.entity and not e.unanswerable else -1
        if i >= 0:
            out.append(replace(e, id=e.id + ":pointer", question=e.entity, answers=((e.entity, i),),
                               template="pointer"))
    return out


def _concat(a: dict, b: dict) -> dict:
    return {k: (list(a[k]) + list(b[k])) if isinstance(a[k], list) else np.concatenate([a[k], b[k]]) for k in a}


def _batches(feats: dict, order: Sequence[int], batch_size: int):
    for k in range(0, len(order), batch_size):
        idx = order[k:k + batch_size]
        L = max(len(feats["input_ids"][i]) for i in idx)
        ids = torch.zeros(len(idx), L, dtype=torch.long)
        tt = torch.zeros(len(idx), L, dtype=torch.long)
        ment = torch.zeros(len(idx), L)
        for r, i in enumerate(idx):
            n = len(feats["input_ids"][i])
            ids[r, :n] = torch.tensor(feats["input_ids"][i])
            tt[r, :n] = torch.tensor(feats["token_type_ids"][i])
            ment[r, :n] = torch.tensor(feats["mention"][i], dtype=torch.float)
        yield (ids, tt, (ids != 0).long(), torch.as_tensor(feats["start"][idx]), torch.as_tensor(feats["end"][idx]),
               ment)


def _match_init(model: ElectraForQuestionAnswering, heads: int = 2, scale: float = 2.0) -> None:
    """Start with heads that attend to copies of the same token (the question's name in the context).

    Word embeddings live in the first half of the dimensions and position/token-type embeddings in the
    second half; the first ``heads`` heads of every layer get equal query and key projections of the word
    half, so a token's score with another token is high when both are the same word, wherever they are.
    """
    cfg = model.config
    half, hd = cfg.embedding_size // 2, cfg.hidden_size // cfg.num_attention_heads
    emb = model.electra.embeddings
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        emb.word_embeddings.weight[:, half:] = 0
        emb.position_embeddings.weight[:, :half] = 0
        emb.token_type_embeddings.weight[:, :half] = 0
        for layer in model.electra.encoder.layer:
            att = layer.attention.self
            for h in range(heads):
                q = torch.linalg.qr(torch.randn(half, hd, generator=g))[0].T  # (hd, half) orthonormal rows
                rows = slice(h * hd, (h + 1) * hd)
                for lin in (att.query, att.key):
                    lin.weight[rows] = 0
                    lin.weight[rows, :half] = q * scale
                    lin.bias[rows] = 0


def build_model(vocab_size: int, sinusoidal_positions: bool = False, match_init: bool = False
                ) -> ElectraForQuestionAnswering:
    # no dropout: the data is plentiful and synthetic, and dropout slowed convergence in a 2.5k-step run
    config = ElectraConfig(vocab_size=vocab_size, embedding_size=128, hidden_size=128, num_hidden_layers=4,
                           num_attention_heads=4, intermediate_size=512, max_position_embeddings=512,
                           type_vocab_size=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                           pad_token_id=0)
    model = ElectraForQuestionAnswering(config)
    if match_init:
        _match_init(model)
    if not sinusoidal_positions:
        return model
    # sinusoidal init of the (trainable) position table, scaled to the word-embedding std (0.02);
    # with match_init only in the position half of the dimensions
    d = config.embedding_size // 2 if match_init else config.embedding_size
    pos = torch.arange(config.max_position_embeddings).float()[:, None]
    ang = pos / (10000 ** (torch.arange(0, d, 2).float() / d))
    pe = torch.zeros(config.max_position_embeddings, d)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(ang), torch.cos(ang)
    with torch.no_grad():
        model.electra.embeddings.position_embeddings.weight[:, -d:] = pe * (config.initializer_range / pe.std())
    return model


def _noisy_question(ids: torch.Tensor, tt: torch.Tensor, am: torch.Tensor, ment: torch.Tensor, p: float,
                    gen: torch.Generator, vocab_size: int) -> torch.Tensor:
    """Replace a share ``p`` of the question's tokens (never the entity, [CLS] or [SEP]) by random tokens.

    Question templates held out of training bring words the model never saw (출생지, occupation); training
    on questions with random words in them teaches it to answer from the words it knows.
    """
    special = (ids < len(SPECIALS))
    can = (tt == 0) & (am == 1) & (ment == 0) & ~special
    hit = can & (torch.rand(ids.shape, generator=gen) < p)
    rand = torch.randint(len(SPECIALS), vocab_size, ids.shape, generator=gen)
    return torch.where(hit, rand, ids)


@torch.no_grad()
def _argmax_em(model, feats: dict, batch_size: int = 128, max_answer_len: int = 20) -> float:
    """Token-level exact match of the best span (or [CLS] when it scores higher): a cheap dev signal."""
    model.eval()
    hits = 0
    order = list(range(len(feats["start"])))
    dev = next(model.parameters()).device
    for batch in _batches(feats, order, batch_size):
        ids, tt, am, s, e, _ = (t.to(dev) for t in batch)
        out = model(input_ids=ids, token_type_ids=tt, attention_mask=am)
        sl, el = out.start_logits, out.end_logits
        ctx = (tt == 1) & (am == 1)
        sl_c = sl.masked_fill(~ctx, -1e4)
        el_c = el.masked_fill(~ctx, -1e4)
        L = ids.shape[1]
        ones = torch.ones(L, L, dtype=torch.bool, device=dev)
        band = torch.triu(ones) & ~torch.triu(ones, max_answer_len)
        scores = (sl_c[:, :, None] + el_c[:, None, :]).masked_fill(~band, -1e9)
        best = scores.flatten(1).argmax(1)
        ps, pe = best // L, best % L
        best_score = scores.flatten(1).max(1).values
        null = sl[:, 0] + el[:, 0]
        ps = torch.where(null > best_score, 0, ps)
        pe = torch.where(null > best_score, 0, pe)
        hits += int(((ps == s) & (pe == e)).sum())
    model.train()
    return hits / len(order)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=demo_model_path())
    ap.add_argument("--n-train", type=int, default=120000)
    ap.add_argument("--steps", type=int, default=14000, help="total optimizer steps (both phases)")
    ap.add_argument("--easy-steps", type=int, default=0,
                    help="curriculum phase 1: the first N steps train on easy two-person paragraphs (0: off)")
    ap.add_argument("--n-easy", type=int, default=40000, help="easy examples generated for phase 1")
    ap.add_argument("--pointer-steps", type=int, default=0,
                    help="curriculum phase 1: the first N steps mix in name-pointer questions (0: off)")
    ap.add_argument("--pointer-only", action="store_true", help="phase 1 trains on pointer questions alone")
    ap.add_argument("--match-init", action=argparse.BooleanOptionalAction, default=True,
                    help="initialise two heads per layer to attend between copies of the same token")
    ap.add_argument("--aux-match", type=float, default=1.0,
                    help="weight of an auxiliary loss that tags the question entity's mentions (0: off)")
    ap.add_argument("--aux-layer", type=int, default=2, help="hidden state (0 = embeddings) the auxiliary loss reads")
    ap.add_argument("--question-noise", type=float, default=0.2,
                    help="replace this share of question words (not the entity) by random tokens (0: off)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=0, help="warmup steps (0: steps // 12)")
    ap.add_argument("--sinusoidal-positions", action="store_true",
                    help="start the (trainable) position table from a sinusoidal one scaled to std 0.02")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu",
                    help="torch device for training (cpu, the reference; cuda for quick recipe sweeps: same data and "
                         "seeds, but not the same numbers as the CPU run)")
    args = ap.parse_args(argv)
    if args.easy_steps > 0 and args.pointer_steps > 0:
        ap.error("--easy-steps and --pointer-steps are two curricula for the same first phase; pick one")
    if args.pointer_only and args.pointer_steps <= 0:
        ap.error("--pointer-only needs --pointer-steps N > 0")

    t0 = time.time()
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":  # deterministic cuBLAS needs a fixed workspace, set before CUDA starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # on CUDA a sweep aid only: warn rather than stop where an op has no deterministic kernel
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")

    train = generate("train", args.n_train, seed=0)
    dev = generate("dev", 1000, seed=0)
    tokenizer = train_tokenizer(segmented_corpus("train", args.n_train, seed=0))
    ftrain, fdev = encode_examples(tokenizer, train), encode_examples(tokenizer, dev)
    # curriculum: phase 1 trains on its own data for the first phase1_steps steps, then the full data
    phase1_steps, phase1_name = (args.easy_steps, "easy") if args.easy_steps > 0 else (args.pointer_steps, "pointer")
    if args.easy_steps > 0:
        fphase1 = encode_examples(tokenizer, generate("train", args.n_easy, seed=0, easy=True))
        fdev_phase1 = encode_examples(tokenizer, generate("dev", 500, seed=0, easy=True))
    elif args.pointer_steps > 0:
        fptr = encode_examples(tokenizer, pointer_examples(train))
        fphase1 = fptr if args.pointer_only else _concat(ftrain, fptr)
        fdev_phase1 = encode_examples(tokenizer, pointer_examples(dev[:500]))
    model = build_model(len(tokenizer), args.sinusoidal_positions, args.match_init).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"data+tokenizer {time.time() - t0:.0f}s, vocab {len(tokenizer)}, params {n_params}", flush=True)

    # training-only probe: tags the question entity's mentions from a middle layer (not saved)
    aux_head = torch.nn.Linear(model.config.hidden_size, 1).to(device) if args.aux_match > 0 else None
    named = list(model.named_parameters()) + (list(aux_head.named_parameters()) if aux_head else [])
    no_decay = ("bias", "LayerNorm.weight")
    groups = [{"params": [p for n, p in named if not any(k in n for k in no_decay)], "weight_decay": 0.01},
              {"params": [p for n, p in named if any(k in n for k in no_decay)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    warmup = args.warmup or max(1, args.steps // 12)

    def lr_at(step: int) -> float:  # linear warmup, cosine decay to 5%
        if step < warmup:
            return (step + 1) / warmup
        p = (step - warmup) / max(1, args.steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    # length-bucketed shuffling: similar lengths per batch keep padding (and CPU time) low
    g = random.Random(SEED)
    log: list[dict] = []
    model.train()
    step, running, running_aux = 0, 0.0, 0.0
    noise_gen = torch.Generator().manual_seed(SEED)
    while step < args.steps:
        phase1 = step < phase1_steps
        feats = fphase1 if phase1 else ftrain
        lengths = [len(x) for x in feats["input_ids"]]
        order = list(range(len(lengths)))
        g.shuffle(order)
        chunks = [sorted(order[k:k + args.batch_size * 50], key=lengths.__getitem__)
                  for k in range(0, len(order), args.batch_size * 50)]
        batches = [c[k:k + args.batch_size] for c in chunks for k in range(0, len(c), args.batch_size)]
        g.shuffle(batches)
        for idx in batches:
            if step >= args.steps or phase1 != (step < phase1_steps):
                break
            ids, tt, am, s, e, ment = next(_batches(feats, idx, len(idx)))
            if args.question_noise > 0:
                ids = _noisy_question(ids, tt, am, ment, args.question_noise, noise_gen,
                                      model.config.vocab_size)
            ids, tt, am, s, e, ment = (t.to(device) for t in (ids, tt, am, s, e, ment))
            out = model(input_ids=ids, token_type_ids=tt, attention_mask=am, start_positions=s, end_positions=e,
                        output_hidden_states=aux_head is not None)
            loss = out.loss
            if aux_head is not None:
                logits = aux_head(out.hidden_states[args.aux_layer]).squeeze(-1)
                aux = torch.nn.functional.binary_cross_entropy_with_logits(logits, ment, weight=am.float(),
                                                                           reduction="sum") / am.sum()
                loss = loss + args.aux_match * aux
                running_aux += float(aux.detach())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            running += float(out.loss.detach())
            step += 1
            if step % 100 == 0:
                rec = {"step": step, "loss": round(running / 100, 4), "lr": sched.get_last_lr()[0],
                       "elapsed_s": round(time.time() - t0)}
                if aux_head is not None:
                    rec["aux_loss"] = round(running_aux / 100, 4)
                running = running_aux = 0.0
                if step % 500 == 0 or step == args.steps:
                    rec["dev_em_tokens"] = round(_argmax_em(model, fdev), 4)
                    if step <= phase1_steps:
                        rec[f"dev_{phase1_name}_em_tokens"] = round(_argmax_em(model, fdev_phase1), 4)
                log.append(rec)
                print(json.dumps(rec), flush=True)

    model.eval().cpu()
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tokenizer.save_pretrained(args.out)
    wall = time.time() - t0
    summary = {"command": "python -m qaaudit.demo.train", "wall_time_s": round(wall), "steps": args.steps,
               "batch_size": args.batch_size, "lr": args.lr,
               "warmup": warmup, "sinusoidal_positions": args.sinusoidal_positions,
               "easy_steps": args.easy_steps, "n_easy": args.n_easy if args.easy_steps > 0 else 0,
               "pointer_steps": args.pointer_steps, "pointer_only": args.pointer_only, "match_init": args.match_init,
               "aux_match": args.aux_match, "aux_layer": args.aux_layer,
               "question_noise": args.question_noise,
               "n_train": args.n_train, "threads": args.threads, "device": args.device,
               "seed": SEED, "max_len": MAX_LEN, "params": n_params, "vocab_size": len(tokenizer),
               "final_dev_em_tokens": log[-1].get("dev_em_tokens") if log else None, "log": log}
    (args.out / "train_log.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"saved to {args.out} in {wall:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

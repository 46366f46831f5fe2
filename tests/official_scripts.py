"""The official evaluation scripts' scoring logic, transcribed as written, as the reference for the tests.

SQuAD v1.1 ``evaluate-v1.1.py``, SQuAD v2.0 ``evaluate-v2.0.py`` (``get_raw_scores``) and KorQuAD 1.0
``evaluate-v1.0.py``: the functions below keep the scripts' names and order of operations so a reader can
hold them against the originals line by line. qaaudit's own code must never import this module.
"""
from __future__ import annotations

import collections
import re
import string
from collections import Counter


# ------------------------------------------------------------------------------ SQuAD v1.1
def v11_normalize_answer(s):
    def remove_articles(text):
        return re.sub(r'\b(a|an|the)\b', ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def v11_f1_score(prediction, ground_truth):
    prediction_tokens = v11_normalize_answer(prediction).split()
    ground_truth_tokens = v11_normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def v11_exact_match_score(prediction, ground_truth):
    return (v11_normalize_answer(prediction) == v11_normalize_answer(ground_truth))


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)


def v11_evaluate(dataset, predictions):
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article['paragraphs']:
            for qa in paragraph['qas']:
                total += 1
                if qa['id'] not in predictions:
                    continue
                ground_truths = list(map(lambda x: x['text'], qa['answers']))
                prediction = predictions[qa['id']]
                exact_match += metric_max_over_ground_truths(v11_exact_match_score, prediction, ground_truths)
                f1 += metric_max_over_ground_truths(v11_f1_score, prediction, ground_truths)
    exact_match = 100.0 * exact_match / total
    f1 = 100.0 * f1 / total
    return {'exact_match': exact_match, 'f1': f1}


# ------------------------------------------------------------------------------ SQuAD v2.0
def v20_normalize_answer(s):
    def remove_articles(text):
        regex = re.compile(r'\b(a|an|the)\b', re.UNICODE)
        return re.sub(regex, ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def v20_get_tokens(s):
    if not s:
        return []
    return v20_normalize_answer(s).split()


def v20_compute_exact(a_gold, a_pred):
    return int(v20_normalize_answer(a_gold) == v20_normalize_answer(a_pred))


def v20_compute_f1(a_gold, a_pred):
    gold_toks = v20_get_tokens(a_gold)
    pred_toks = v20_get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        # If either is no-answer, then F1 is 1 if they agree, 0 otherwise
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def v20_scores(answer_texts, a_pred):
    """The body of ``get_raw_scores`` for one question: (exact, f1)."""
    gold_answers = [a for a in answer_texts if v20_normalize_answer(a)]
    if not gold_answers:
        # For unanswerable questions, only correct answer is empty string
        gold_answers = ['']
    return (max(v20_compute_exact(a, a_pred) for a in gold_answers),
            max(v20_compute_f1(a, a_pred) for a in gold_answers))


# ------------------------------------------------------------------------------ KorQuAD 1.0
def korquad_normalize_answer(s):
    def remove_(text):
        ''' 불필요한 기호 제거 '''
        text = re.sub("'", " ", text)
        text = re.sub('"', " ", text)
        text = re.sub('《', " ", text)
        text = re.sub('》', " ", text)
        text = re.sub('<', " ", text)
        text = re.sub('>', " ", text)
        text = re.sub('〈', " ", text)
        text = re.sub('〉', " ", text)
        text = re.sub(r"\(", " ", text)
        text = re.sub(r"\)", " ", text)
        text = re.sub("‘", " ", text)
        text = re.sub("’", " ", text)
        return text

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_punc(lower(remove_(s))))


def korquad_f1_score(prediction, ground_truth):
    prediction_tokens = korquad_normalize_answer(prediction).split()
    ground_truth_tokens = korquad_normalize_answer(ground_truth).split()

    # F1 by character
    prediction_Char = []
    for tok in prediction_tokens:
        now = [a for a in tok]
        prediction_Char.extend(now)

    ground_truth_Char = []
    for tok in ground_truth_tokens:
        now = [a for a in tok]
        ground_truth_Char.extend(now)

    common = Counter(prediction_Char) & Counter(ground_truth_Char)
    num_same = sum(common.values())
    if num_same == 0:
        return 0

    precision = 1.0 * num_same / len(prediction_Char)
    recall = 1.0 * num_same / len(ground_truth_Char)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def korquad_exact_match_score(prediction, ground_truth):
    return (korquad_normalize_answer(prediction) == korquad_normalize_answer(ground_truth))


def official_scores(normalization, prediction, golds):
    """(EM, F1) of one answered question by the script ``normalization`` names."""
    if normalization == "squad2":
        em, f1 = v20_scores(golds, prediction)
        return float(em), float(f1)
    em_fn, f1_fn = ((korquad_exact_match_score, korquad_f1_score) if normalization == "korquad"
                    else (v11_exact_match_score, v11_f1_score))
    return (float(metric_max_over_ground_truths(em_fn, prediction, golds)),
            float(metric_max_over_ground_truths(f1_fn, prediction, golds)))

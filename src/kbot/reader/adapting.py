"""Training the reader's question adapter (``adapter.py``) from MedQuAD's ``train`` documents, reproducibly.

    .venv/bin/python -m kbot.reader.adapting ../shared/medquad --out src/kbot/data/reader --articles 2000

1. A library of ``--articles`` train documents, spread evenly by id, indexed by kbot in a work folder (at 1,000, the
   same library as the cross-encoder's training, ``kbot.reader.training``; the shipped adapter read 2,000, since it
   overfitted 1,000), in float32 on every CPU so that a run on another machine draws the same examples.
2. Questions: each section's templated question and two patient phrasings of it (``medquad.questions``), with the
   section's evidence sentences.
3. For each question, kbot's own best ``TOP`` candidates (abstention off, no reader), with what the question's vector
   does not change kept as one number (the lexical signals, the word pieces) and the three dense views' vectors.
   Positives: the candidates that are one of the section's evidence sentences; a question with none among them is
   left out.
4. The adapter, trained so that the candidates' scores, with the dense views scored against the adapted vector and
   weighted as the retriever weighs them, put the positives first: minus the log of the softmax mass on them (at
   ``TEMPERATURE``), AdamW, full batches of 256 questions. Articles are split by a hash of their name: a fifth is held
   out and measured (support@1 / @3 of the candidates' order, before and after), the rest trained on.
5. ``adapter.npz`` in ``--out`` and ``adapter-log.json`` beside it.

Documents of ``dev`` and ``test`` and eval/gold.jsonl are never read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kbot.config import Settings
from kbot.evaluation.metrics import supports
from kbot.medquad.documents import read_documents
from kbot.medquad.library import train_library
from kbot.medquad.questions import gold_questions
from kbot.reader.adapter import ADAPTER_FILE, QueryAdapter
from kbot.reader.training import served_for_training

SEED = 7
TOP = 40  # candidates per question
DENSE = {"sentence": "sentences", "context": "context", "window": "window"}  # signal: the index's view it scores
HIDDEN = 512
EPOCHS = 5
LEARNING_RATE = 1e-3
TEMPERATURE = 0.2
BATCH = 256
HELD_OUT = 5  # one article in five


def held_out(article: str) -> bool:
    return int(hashlib.sha256(article.encode()).hexdigest()[:8], 16) % HELD_OUT == 0


def examples(medquad: Path, work: Path, articles: int) -> dict[str, np.ndarray]:
    """Every question's candidates as arrays (see the module's docstring): q (n, dim), fixed and labels (n, TOP), one
    (n, TOP, dim) array per dense view, weights (3,), held (n,)."""
    from kbot.embedding import load_embedder

    folder = work / "library"
    entries = train_library(medquad, folder, articles)
    service = served_for_training(folder, work / "index", "train", load_embedder(Settings().model_name, bf16=False))
    base = service.kb("train")
    retriever, rows = base.retriever, base.index.sentences
    questions = gold_questions(entries, read_documents(medquad), seed=SEED)
    weights = np.array([getattr(retriever.weights, name) for name in DENSE], dtype=np.float32)
    kept: dict[str, list[Any]] = {"q": [], "ids": [], "fixed": [], "labels": [], "held": []}
    for start in range(0, len(questions), 256):
        chunk = questions[start : start + 256]
        queries, encoded = service.encode_questions([q.question for q in chunk], base)
        for item, query, enc in zip(chunk, queries, encoded, strict=True):
            features = retriever.features(query, enc)
            total = retriever.combine(features)
            order = np.argsort(-total)[:TOP]
            labels = np.array([supports(rows[features.ids[i]].text, item.evidence) for i in order], dtype=np.float32)
            if len(order) < TOP or not labels.any():
                continue
            dense = sum(w * features.signals[name][order] for w, name in zip(weights, DENSE, strict=True))
            kept["q"].append(enc.vector)
            kept["ids"].append(features.ids[order])
            kept["fixed"].append(total[order] - dense)
            kept["labels"].append(labels)
            kept["held"].append(held_out(item.article))
        print(f"{start + len(chunk)} of {len(questions)} questions", flush=True)
    data = {name: np.array(values) for name, values in kept.items()}
    ids = data.pop("ids")
    for signal, view in DENSE.items():  # float16, as the index keeps them
        data[signal] = np.asarray(base.index.views[view][ids])
    data["weights"] = weights
    return data


def train(data: dict[str, np.ndarray], log: dict[str, Any]) -> QueryAdapter:
    """The adapter, trained on the questions not held out; the held-out ones' figures go to ``log``."""
    import torch

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    tensors = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in data.items() if k != "held"}
    held = torch.from_numpy(data["held"].astype(bool))
    weights = tensors.pop("weights")
    fit = {k: v[~held] for k, v in tensors.items()}
    test = {k: v[held] for k, v in tensors.items()}
    dim = fit["q"].shape[1]
    first, second = torch.nn.Linear(dim, HIDDEN), torch.nn.Linear(HIDDEN, dim)
    torch.nn.init.zeros_(second.weight)  # it starts as the identity: q' = q
    torch.nn.init.zeros_(second.bias)
    net = torch.nn.Sequential(first, torch.nn.GELU(approximate="tanh"), second)

    def adapted(q: Any) -> Any:
        return torch.nn.functional.normalize(q + net(q), dim=-1)

    def scores(q: Any, part: dict[str, Any]) -> Any:
        dense = sum(w * torch.einsum("nd,nkd->nk", q, part[name]) for w, name in zip(weights, DENSE, strict=True))
        return part["fixed"] + dense

    optimizer = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=0.0)
    order = list(range(len(fit["q"])))
    log["steps"] = []
    for epoch in range(EPOCHS):
        rng.shuffle(order)
        for at in range(0, len(order), BATCH):
            part = {k: v[order[at : at + BATCH]] for k, v in fit.items()}
            s = scores(adapted(part["q"]), part) / TEMPERATURE
            positives = s.masked_fill(part["labels"] == 0, float("-inf"))
            loss: Any = (torch.logsumexp(s, 1) - torch.logsumexp(positives, 1)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        log["steps"].append({"epoch": epoch + 1, "loss": round(loss.item(), 4)})
        print(json.dumps(log["steps"][-1]), flush=True)
    with torch.no_grad():
        for name, part in (("trained", fit), ("held_out", test)):
            before, after = scores(part["q"], part), scores(adapted(part["q"]), part)
            log[name] = {
                "questions": len(part["q"]),
                "before": _supports(before, part["labels"], torch),
                "after": _supports(after, part["labels"], torch),
            }
    layers = (first.weight.T, first.bias, second.weight.T, second.bias)  # torch keeps (out, in): ours are (in, out)
    return QueryAdapter(*(layer.detach().numpy() for layer in layers))


def _supports(scores: Any, labels: Any, torch: Any) -> dict[str, float]:
    """support@1 and @3 of the candidates in the order of ``scores``."""
    found = {}
    for k in (1, 3):
        top = torch.topk(scores, k, dim=1).indices
        found[f"support_at_{k}"] = round(float(labels.gather(1, top).amax(dim=1).mean()), 4)
    return found


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the reader's question adapter on MedQuAD's train documents.")
    parser.add_argument("medquad", type=Path, help="the folder of MedQuAD's documents.jsonl.gz (../shared/medquad)")
    parser.add_argument("--out", type=Path, required=True, help="the reader's folder to write adapter.npz into")
    parser.add_argument("--work", type=Path, help="a folder to keep the training library and its index in")
    parser.add_argument("--articles", type=int, default=2000)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="kbot-adapter-"))
    data = examples(args.medquad, work, args.articles)
    log: dict[str, Any] = {
        "articles": args.articles,
        "questions": len(data["q"]),
        "plan": {"top": TOP, "hidden": HIDDEN, "epochs": EPOCHS, "learning_rate": LEARNING_RATE, "seed": SEED}
        | {"temperature": TEMPERATURE, "batch": BATCH, "held_out": f"1 article in {HELD_OUT}, by a hash of its name"},
        "weights": dict(zip(DENSE, data["weights"].tolist(), strict=True)),
        "seconds": {"examples": round(time.perf_counter() - started, 1)},
    }
    adapter = train(data, log)
    log["seconds"]["total"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    adapter.write(args.out / ADAPTER_FILE)
    log["digest"] = QueryAdapter.read(args.out / ADAPTER_FILE).digest
    (args.out / "adapter-log.json").write_text(json.dumps(log, indent=1) + "\n", encoding="utf-8")
    print(f"held out: {json.dumps(log['held_out'])}")
    print(f"wrote {args.out / ADAPTER_FILE} in {log['seconds']['total']:.0f} s")


if __name__ == "__main__":
    main()

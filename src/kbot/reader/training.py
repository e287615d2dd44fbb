"""Training the reader from MedQuAD's ``train`` documents, reproducibly (fixed seeds, a log of the run).

    .venv/bin/python -m kbot.reader.training ../shared/medquad --out src/kbot/data/reader --articles 1000 --epochs 2

1. A library of ``--articles`` train documents, spread evenly by id, converted as ``kbot medquad`` does, and indexed
   by kbot in a work folder (the embedding cache makes a second run fast).
2. Questions: each section's templated question and two patient phrasings of it (``medquad.questions``, the rules the
   NIH gold sets use), with the section's evidence sentences.
3. Groups, one per question: kbot's own best candidates for it (abstention off), so the negatives are what kbot
   actually confuses: sentences of the article's other sections first (on topic, another aspect), then other
   articles'. Labels: a candidate is a positive when it is one of the section's evidence sentences (the first eight
   that answer, not the furniture other pages repeat); a sentence of the same section beyond those is left out of the
   group (a long section's later sentences may or may not answer); every other candidate is a negative, unless its text
   is an evidence sentence (shared sentences are not penalised). A question whose evidence kbot did not propose gets
   its first evidence sentence added, so that the reader also learns what retrieval misses.
4. A cross-encoder cut from the shipped MiniLM (every other of its six layers, a fresh scoring head), trained with a
   listwise loss over each group (the positives' share of the softmax), AdamW with warm-up and linear decay.
   Or, with ``--start``, a smaller reader distilled from a trained one: it starts from ``--layers`` of that reader's
   layers (its head kept) and also learns to give each passage the teacher's logit (``--distil``: the weight of the
   mean squared difference), so that the depth and weight chosen for the teacher stay meaningful.
5. The weights as fp16 safetensors in ``--out``, with reader.json and training-log.json; the model card is written by
   hand (README.md there, kept when a run writes over the folder).

Documents of ``dev`` and ``test`` and eval/gold.jsonl are never read.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kbot.answer import Abstention
from kbot.chunking import SentenceRow
from kbot.config import Settings
from kbot.evaluation.metrics import supports
from kbot.index import build_index, kb_index_dir
from kbot.medquad.documents import read_documents
from kbot.medquad.library import train_library
from kbot.medquad.questions import GoldQuestion, gold_questions
from kbot.reader.model import SETTINGS_FILE, WEIGHTS_FILE

SEED = 7
GROUP = 8  # passages per question: its positives (at most MAX_POSITIVES) and the hardest negatives
MAX_POSITIVES = 2
CANDIDATES = 30  # kbot's best candidates that negatives are taken from
KEEP_LAYERS = (0, 2, 4)  # of MiniLM-L6's six: half the cost of the reader, every other layer as DistilBERT does
MAX_LENGTH = 96  # word pieces of question and passage together (a question and a sentence under its heading: ~55)


@dataclass(frozen=True)
class Group:
    """One question and the passages it is trained on: the first ``positives`` of them answer it. ``bare``: the same
    sentences without their heading (what ``--heading-dropout`` trains on now and then)."""

    question: str
    passages: tuple[str, ...]
    positives: int
    bare: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    articles: int = 900
    epochs: int = 2
    batch_groups: int = 4
    learning_rate: float = 5e-5
    warmup: float = 0.05
    seed: int = SEED
    heading_dropout: float = 0.0  # the share of passages read without their heading, so that the sentence counts
    labelled_share: float = 0.5  # of a --labelled set, the questions trained on (the rest are left for choices)
    labelled_repeat: int = 4  # how often each of their groups is seen per epoch
    start: str = ""  # a trained reader's folder to distil from ("" : the packaged MiniLM, no teacher)
    layers: tuple[int, ...] = KEEP_LAYERS  # of the model started from
    distil: float = 1.0  # with ``start``: the weight of matching the teacher's logits


def served_for_training(folder: Path, index_dir: Path, name: str, embedder: Any) -> Any:
    """The knowledge base in ``folder``, indexed into ``index_dir`` as ``name`` and served without the reader and with
    abstention off: kbot's own candidates for every question, which training draws its examples from."""
    from kbot.service import KbotService

    settings = Settings(index_dir=index_dir, knowledge_bases={name: folder}, reader=False)
    build_index(folder, kb_index_dir(index_dir, name), embedder, settings.passage_sentences)
    service = KbotService.load(settings, embedder, only=[name])
    return service.with_knowledge_base(dataclasses.replace(service.kb(name), abstention=Abstention(-1.0, -1.0, -1.0)))


def groups_for(service: Any, kb: str, questions: Sequence[GoldQuestion], seed: int) -> list[Group]:
    """Each question's group from kbot's own candidates (see the module's docstring for the labels)."""
    base = service.kb(kb)
    retriever, rows = base.retriever, base.index.sentences
    by_article: dict[str, list[SentenceRow]] = {}
    for r in rows:
        if r.quotable:
            by_article.setdefault(base.index.documents[r.source_id].meta.file.rsplit(".", 1)[0], []).append(r)
    rng = random.Random(seed)
    groups: list[Group] = []
    for start in range(0, len(questions), 256):
        chunk = questions[start : start + 256]
        queries, encoded = service.encode_questions([q.question for q in chunk], base)
        for item, query, enc in zip(chunk, queries, encoded, strict=True):
            group = _group(item, retriever.retrieve(query, enc, limit=CANDIDATES), by_article, retriever, rng)
            if group is not None:
                groups.append(group)
    return groups


def _group(item: GoldQuestion, found: Any, by_article: dict[str, list[SentenceRow]], retriever: Any, rng: Any) -> Any:
    own = by_article.get(item.article, [])
    answering = [r for r in own if supports(r.text, item.evidence)]
    if not answering:
        return None
    section = {r.section for r in answering}
    positives = [c.row for c in found.candidates if c.row in answering][:MAX_POSITIVES]
    if not positives:
        positives = [answering[0]]
    negatives: list[SentenceRow] = []
    for c in found.candidates:
        r = c.row
        if r in answering or supports(r.text, item.evidence):
            continue
        if r.source_id == answering[0].source_id and r.section in section:
            continue  # a later sentence of the answering section: neither label is safe
        negatives.append(r)
    return _assembled(item.question, positives, negatives, retriever, rng)


def _assembled(
    question: str, positives: list[SentenceRow], negatives: list[SentenceRow], retriever: Any, rng: Any
) -> Group | None:
    """The group of ``positives`` and the hardest of ``negatives`` (kbot's order), with one easier negative drawn from
    the rest so that the scale holds beyond kbot's first few; None without a negative."""
    hardest = negatives[: GROUP - len(positives) - 1]
    rest = negatives[len(hardest) :]
    if rest:
        hardest.append(rng.choice(rest))
    if not hardest:
        return None
    chosen = positives + hardest
    passages = tuple(retriever.passage(r) for r in chosen)
    return Group(question, passages, len(positives), tuple(r.text for r in chosen))


def trained_share(item_id: str, share: float) -> bool:
    """Whether a labelled question is in the share trained on: by a hash of its id, so every run splits alike."""
    return int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def labelled_groups(service: Any, kb: str, items: Sequence[Any], seed: int) -> list[Group]:
    """Groups from a hand-labelled set (eval/calibration.jsonl): kbot's candidates for each question, its evidence
    sentences among them the positives (at most MAX_POSITIVES; a question none of whose evidence kbot proposes is
    left out), the others negatives."""
    base = service.kb(kb)
    retriever = base.retriever
    rng = random.Random(seed)
    groups = []
    queries, encoded = service.encode_questions([i.question for i in items], base)
    for item, query, enc in zip(items, queries, encoded, strict=True):
        found = [c.row for c in retriever.retrieve(query, enc, limit=CANDIDATES).candidates]
        positives = [r for r in found if supports(r.text, item.evidence)][:MAX_POSITIVES]
        negatives = [r for r in found if not supports(r.text, item.evidence)]
        group = _assembled(item.question, positives, negatives, retriever, rng) if positives else None
        if group is not None:
            groups.append(group)
    return groups


def train(groups: Sequence[Group], plan: Plan, log: list[dict[str, Any]]) -> Any:
    """The cross-encoder, trained on ``groups``; each step's loss goes to ``log`` (every 50th)."""
    import torch
    from sentence_transformers import CrossEncoder

    from kbot.embedding import packaged_model_path

    torch.manual_seed(plan.seed)
    rng, dropout = random.Random(plan.seed), random.Random(plan.seed + 1)  # (the second draws nothing by default)
    start = plan.start or packaged_model_path()
    model = CrossEncoder(str(start), num_labels=1, device="cpu", max_length=MAX_LENGTH, local_files_only=True)
    model.model.to(torch.float32)
    teacher = copy.deepcopy(model.model).eval() if plan.start else None  # whole, before its layers are cut
    bert = model.model.bert
    bert.encoder.layer = torch.nn.ModuleList([bert.encoder.layer[i] for i in plan.layers])
    model.model.config.num_hidden_layers = len(plan.layers)
    net, tokenizer = model.model, model.tokenizer
    steps = plan.epochs * ((len(groups) + plan.batch_groups - 1) // plan.batch_groups)
    optimizer = torch.optim.AdamW(net.parameters(), lr=plan.learning_rate, weight_decay=0.01)
    warm = max(1, int(steps * plan.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))
    )
    net.train()
    step, started, order = 0, time.perf_counter(), list(range(len(groups)))
    for epoch in range(plan.epochs):
        rng.shuffle(order)
        for at in range(0, len(order), plan.batch_groups):
            batch = [groups[i] for i in order[at : at + plan.batch_groups]]
            pairs = [
                (g.question, bare if plan.heading_dropout and bare and dropout.random() < plan.heading_dropout else p)
                for g in batch
                for p, bare in zip(g.passages, g.bare or ("",) * len(g.passages), strict=True)
            ]
            features = tokenizer(
                [q for q, _ in pairs],
                [p for _, p in pairs],
                padding=True,
                truncation="longest_first",
                max_length=MAX_LENGTH,
                return_tensors="pt",
            )
            scores = net(**features).logits.view(-1)
            loss = _listwise_loss(scores, batch, torch)
            if teacher is not None:
                with torch.no_grad():
                    taught = teacher(**features).logits.view(-1)
                loss = loss + plan.distil * torch.nn.functional.mse_loss(scores, taught)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            if step % 50 == 0 or step == steps:
                entry = {"epoch": epoch, "step": step, "of": steps, "loss": round(loss.item(), 4)}
                entry["seconds"] = round(time.perf_counter() - started, 1)
                log.append(entry)
                print(json.dumps(entry), flush=True)
    net.eval()
    return model


def _listwise_loss(scores: Any, batch: Sequence[Group], torch: Any) -> Any:
    """Minus the log of the softmax mass on each group's positives, averaged over the groups."""
    losses, at = [], 0
    for g in batch:
        s = scores[at : at + len(g.passages)]
        losses.append(torch.logsumexp(s, 0) - torch.logsumexp(s[: g.positives], 0))
        at += len(g.passages)
    return torch.stack(losses).mean()


def save(model: Any, out: Path, name: str, log: dict[str, Any]) -> None:
    """fp16 weights, tokenizer and config in ``out``, with reader.json (a tuned depth and weight kept) and the log. A
    model card already there (README.md, written by hand) is kept: save_pretrained would write a generated one."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    card = out / "README.md"
    kept = card.read_bytes() if card.exists() else None
    model.model.to(torch.float16)
    model.save_pretrained(str(out), safe_serialization=True)
    model.model.to(torch.float32)
    if kept is not None:
        card.write_bytes(kept)
    settings_path = out / SETTINGS_FILE
    settings = json.loads(settings_path.read_text(encoding="utf-8")) if settings_path.exists() else {}
    settings.update({"name": name, "max_length": MAX_LENGTH})
    settings_path.write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    (out / "training-log.json").write_text(json.dumps(log, indent=1) + "\n", encoding="utf-8")
    assert (out / WEIGHTS_FILE).exists()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train kbot's reader on MedQuAD's train documents.")
    parser.add_argument("medquad", type=Path, help="the folder of MedQuAD's documents.jsonl.gz (../shared/medquad)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the weights")
    parser.add_argument("--work", type=Path, help="a folder to keep the training library and its index in")
    parser.add_argument("--articles", type=int, default=Plan.articles)
    parser.add_argument("--epochs", type=int, default=Plan.epochs)
    parser.add_argument("--name", default="kbot-reader-1")
    parser.add_argument(
        "--labelled",
        help="also train on a share of a hand-labelled set of another library: FILE=FOLDER "
        "(eval/calibration.jsonl=seeds); never eval/gold.jsonl",
    )
    parser.add_argument("--heading-dropout", type=float, default=Plan.heading_dropout)
    parser.add_argument("--start", type=Path, help="distil from this trained reader (its folder) instead")
    parser.add_argument(
        "--layers", help="with --start: which of its layers the new reader keeps, e.g. 0,2 [default: all]"
    )
    parser.add_argument("--distil", type=float, default=Plan.distil, help="with --start: weight of its logits")
    args = parser.parse_args(argv)
    plan = dataclasses.replace(
        Plan(), articles=args.articles, epochs=args.epochs, heading_dropout=args.heading_dropout, distil=args.distil
    )
    if args.start:
        teacher = json.loads((args.start / "config.json").read_text(encoding="utf-8"))
        every = tuple(range(teacher["num_hidden_layers"]))
        layers = tuple(int(i) for i in args.layers.split(",")) if args.layers else every
        if not layers or any(i not in every for i in layers):
            raise SystemExit(f"--layers {args.layers}: {args.start} has layers {','.join(map(str, every))}")
        plan = dataclasses.replace(plan, start=str(args.start), layers=layers)
    elif args.layers:
        raise SystemExit("--layers needs --start (a fresh reader keeps layers 0, 2 and 4 of MiniLM)")
    random.seed(plan.seed)
    np.random.seed(plan.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="kbot-reader-"))
    started = time.perf_counter()
    folder = work / "library"
    entries = train_library(args.medquad, folder, plan.articles)
    from kbot.embedding import load_embedder

    # bf16=False: float32 retrieval on every CPU, as when the shipped weights were trained, so that a run on another
    # machine draws the same groups.
    embedder = load_embedder(Settings().model_name, bf16=False)
    service = served_for_training(folder, work / "index", "train", embedder)
    built = time.perf_counter() - started
    questions = gold_questions(entries, read_documents(args.medquad), seed=plan.seed)
    groups = groups_for(service, "train", questions, plan.seed)
    grouped = time.perf_counter() - started - built
    print(f"{len(entries)} articles, {len(questions)} questions, {len(groups)} groups", flush=True)
    trained_ids: list[str] = []
    if args.labelled:
        extra, trained_ids = _labelled(args.labelled, work, embedder, plan)
        groups = groups + extra * plan.labelled_repeat
        print(f"{len(extra)} groups from {args.labelled} ({len(trained_ids)} questions), x{plan.labelled_repeat}")
    steps: list[dict[str, Any]] = []
    model = train(groups, plan, steps)
    log: dict[str, Any] = {
        "plan": dataclasses.asdict(plan),
        "keep_layers": list(plan.layers),
        "group": GROUP,
        "candidates": CANDIDATES,
        "articles": len(entries),
        "questions": len(questions),
        "groups": len(groups),
        "positives": sum(g.positives for g in groups),
        "labelled": args.labelled,
        "labelled_trained_ids": trained_ids,  # eval/tune_reader.py leaves these out of its choices
        "seconds": {"library_and_index": round(built, 1), "groups": round(grouped, 1)},
        "steps": steps,
    }
    log["seconds"]["total"] = round(time.perf_counter() - started, 1)
    save(model, args.out, args.name, log)
    print(f"wrote {args.out} in {log['seconds']['total']:.0f} s", flush=True)


def _labelled(spec: str, work: Path, embedder: Any, plan: Plan) -> tuple[list[Group], list[str]]:
    from kbot.evaluation.gold import load_gold

    path, _, folder = spec.partition("=")
    if Path(path).name in ("gold.jsonl", "test.jsonl"):
        raise SystemExit(f"{path} is held out: it is never trained on")
    items = [i for i in load_gold(Path(path)) if i.kind == "answerable" and trained_share(i.id, plan.labelled_share)]
    service = served_for_training(Path(folder), work / "index", "labelled", embedder)
    return labelled_groups(service, "labelled", items, plan.seed), [i.id for i in items]


if __name__ == "__main__":
    main()

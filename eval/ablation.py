"""What each retrieval technique is worth: kbot with one technique removed (or one signal alone), on a labelled set.

    .venv/bin/python eval/ablation.py                          # the calibration set (where choices are made)
    .venv/bin/python eval/ablation.py eval/gold.jsonl          # the gold set (to report, never to tune on)
    .venv/bin/python eval/ablation.py eval/nih/dev.jsonl --kb nih   # the NIH library (KBOT_KNOWLEDGE_BASES)

Prints a Markdown table of support@1, support@3, MRR, answered rate and mean quote length on the answerable
questions, one row per variant. Needs the real index (`kbot ingest`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

from kbot.answer import Abstention
from kbot.config import Settings
from kbot.evaluation.gold import load_gold
from kbot.evaluation.metrics import by_kind
from kbot.evaluation.run import evaluate_kbot, in_library
from kbot.knowledge_base import DEFAULT_KB
from kbot.retrieval import Retriever, Weights
from kbot.service import KbotService

ALONE = dict.fromkeys(Weights.__dataclass_fields__, 0.0)


def variants(service: KbotService, kb: str = DEFAULT_KB) -> dict[str, Callable[[], None]]:
    """Name -> a change to apply to a freshly reset service."""
    retriever, selector = service.kb(kb).retriever, service.selector

    def weights(**changes: float) -> Callable[[], None]:
        return lambda: setattr(retriever, "weights", dataclasses.replace(Weights(), **changes))

    def selection(**changes: float) -> Callable[[], None]:
        return lambda: setattr(service, "selector", dataclasses.replace(selector, **changes))

    return {
        "kbot (everything)": lambda: None,
        "without the reader (retrieval's order)": lambda: setattr(service, "reader", None),
        "dense: the sentence alone, nothing else": weights(**{**ALONE, "sentence": 1.0}),
        "dense: the FAISS passage alone": weights(**{**ALONE, "passage": 1.0}),
        "lexical: BM25 alone": weights(**{**ALONE, "bm25": 1.0}),
        "word pieces matched alone": weights(**{**ALONE, "tokens": 1.0}),
        "without matching word pieces": weights(tokens=0.0),
        "without the heading view (FAQ question linked to its answer)": weights(context=0.0),
        "without the neighbours view": weights(window=0.0),
        "without IDF coverage": weights(coverage=0.0),
        "without BM25": weights(bm25=0.0),
        "with the passage score (0.3)": weights(passage=0.3),
        "with the heading score (0.3)": weights(heading=0.3),
        "without quoting a neighbour that answers as well": selection(neighbour_ratio=10.0),
        "without extending cryptic sentences": selection(short_chars=0, neighbour_ratio=10.0),
        "without the near-duplicate folding ('also said by')": selection(duplicate_cosine=1.01),
        "without query normalisation (typos, lay terms)": lambda: setattr(
            retriever.normalizer, "normalize", lambda text: text.lower()
        ),
        "without abstention (answer everything)": lambda: setattr(
            service,
            "registry",
            service.registry.replaced(dataclasses.replace(service.kb(kb), abstention=Abstention(-1.0, -1.0, -1.0))),
        ),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("labelled", nargs="?", type=Path, default=Path("eval/calibration.jsonl"))
    parser.add_argument("--kb", default=DEFAULT_KB, help="the knowledge base to ask (default: default)")
    args = parser.parse_args(argv)
    settings = Settings()
    base = KbotService.load(settings, only=[args.kb])
    items = [i for i in in_library(load_gold(args.labelled), base.kb(args.kb).folder) if i.kind == "answerable"]
    print(f"{args.labelled}: {len(items)} answerable questions\n")
    print("| variant | support@1 | support@3 | MRR | answered | quote chars |")
    print("|---|---|---|---|---|---|")
    for name in variants(base, args.kb):
        kb = base.kb(args.kb)
        lexicon = kb.profile.lexicon
        fresh = Retriever(kb.index, settings.top_passages, synonyms=lexicon.synonyms)
        service = base.with_knowledge_base(dataclasses.replace(kb, retriever=fresh))
        variants(service, args.kb)[name]()
        figures = by_kind(evaluate_kbot(service, items, args.kb))["answerable"]
        print(
            f"| {name} | {figures['support_at_1']:.3f} | {figures['support_at_3']:.3f} | {figures['mrr']:.3f} "
            f"| {figures['answered']:.2f} | {figures['mean_quote_chars']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())

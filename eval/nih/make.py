"""Write the NIH gold sets (eval/nih/dev.jsonl and test.jsonl) and the small library CI measures them on
(tests/kbs/nih-small), from MedQuAD. Deterministic: the same MedQuAD gives the same files.

Each set ends with off-topic questions (kind out_of_scope) from eval/off_topic.txt, split between dev and test by a
hash of the question: what the abstention must decline. They are written apart from the list `kbot calibrate` uses
(src/kbot/data/off_topic.txt), so calibration is never measured on its own questions.

    .venv/bin/python eval/nih/make.py [../shared/medquad]

The full library they are made for is `kbot medquad ../shared/medquad --out kbs/nih` (every split).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from kbot.evaluation.calibrate import question_lines
from kbot.medquad.article import article
from kbot.medquad.documents import named, read_documents, select
from kbot.medquad.library import small_library
from kbot.medquad.questions import gold_questions

HERE = Path(__file__).resolve().parent
SMALL = HERE.parents[1] / "tests" / "kbs" / "nih-small"
SMALL_LIMIT, SMALL_DISTRACTORS = 100, 60  # dev and test documents, and train ones; about 5,000 sentences
OFF_TOPIC = HERE.parent / "off_topic.txt"


def off_topic(split: str) -> list[dict[str, object]]:
    """The off-topic questions of ``split``: every other one by the first byte of its SHA-256 (dev even, test odd)."""
    questions = question_lines(OFF_TOPIC.read_text(encoding="utf-8"))
    parity = {"dev": 0, "test": 1}[split]
    mine = [q for q in questions if hashlib.sha256(q.encode()).digest()[0] % 2 == parity]
    return [
        {
            "id": f"off-topic-{split}-{n:03d}",
            "question": q,
            "kind": "out_of_scope",
            "evidence": [],
            "notes": "off topic",
        }
        for n, q in enumerate(mine, start=1)
    ]


def main(source: Path) -> None:
    docs = read_documents(source)
    entries = named(docs)
    for split in ("dev", "test"):
        chosen = select(entries, [split], [])
        items = gold_questions(chosen, docs)
        texts = {stem: article(doc) for stem, doc in chosen}
        if any(e not in texts[q.article] for q in items for e in q.evidence):
            raise SystemExit(f"{split}: a snippet is not verbatim in its article")
        lines = [json.dumps(q, ensure_ascii=False) for q in [*(i.to_dict() for i in items), *off_topic(split)]]
        (HERE / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{split}: {len(items)} questions about {len({q.article for q in items})} of {len(chosen)} articles")
    print(small_library(source, SMALL, SMALL_LIMIT, SMALL_DISTRACTORS, force=True).report().splitlines()[0])


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "medquad")

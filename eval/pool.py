"""Complete the gold set's evidence lists by pooled, blind judging (as TREC does), instead of by reading kbot's output.

    .venv/bin/python eval/pool.py build OUT_DIR [--depth K]   # the pool to judge, in two halves, and the key
    .venv/bin/python eval/pool.py apply OUT_DIR               # judged true -> added to eval/gold.jsonl, on record

An answerable question's evidence should list every snippet that answers it, but its authors may miss some. For each
answerable question and each system, the pool holds the quotable sentences of what the system put before its first
supported answer, down to rank K (kbot's quotes, the baseline's chunks), that the evidence does not already cover and no
judge has judged for that question before, shuffled and without saying which system found them. A judge (who must not
run either system) writes OUT_DIR/judgments_N.jsonl, one {"cid", "answers": true|false, "why"} per candidate; `apply`
adds the true ones and writes the judgments with the systems that retrieved each to eval/judgments.jsonl, so every added
snippet has its reason on record. Both systems are pooled at the same depth, so the audit favours neither; report the
figures before and after it.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from kbot.catalog import load_catalog
from kbot.config import Settings
from kbot.evaluation.baseline import ChunkBaseline
from kbot.evaluation.gold import load_gold
from kbot.evaluation.metrics import first_support_rank, supports
from kbot.service import KbotService

GOLD = Path("eval/gold.jsonl")
RECORD = Path("eval/judgments.jsonl")


def build(out: Path, depth: int = 1) -> None:
    settings = Settings()
    service = KbotService.load(settings)
    baseline = ChunkBaseline(settings.seeds_dir, service.embedder)
    source_of = {m.file: m.id for m in load_catalog(settings.seeds_dir)}
    rows = [r for r in service.kb().index.sentences if r.quotable]
    rng = random.Random(7)
    judged: dict[str, set[str]] = {}  # question id -> sentences judged before, in any earlier round
    for line in RECORD.open(encoding="utf-8") if RECORD.exists() else ():
        record = json.loads(line)
        judged.setdefault(record["id"], set()).add(record["sentence"])
    pool, key = [], {}
    for item in (i for i in load_gold(GOLD) if i.kind == "answerable"):
        answer, chunks = service.ask(item.question), baseline.ask(item.question)
        outputs = {
            "kbot": [(q.source_id, q.start, q.end, q.text) for q in answer.quotes],
            "baseline": [(source_of[c.file], c.start, c.end, c.text) for c in chunks],
        }
        found: dict[int, set[str]] = {}
        for system, ranked in outputs.items():
            hit = first_support_rank([text for *_, text in ranked], item.evidence)
            for source_id, start, end, _ in ranked[: min(depth, hit - 1 if hit else depth)]:
                for r in rows:
                    if r.source_id == source_id and start <= r.start and r.end <= end:
                        found.setdefault(r.id, set()).add(system)
        new = [
            i
            for i in found
            if not supports(service.kb().index.sentences[i].text, item.evidence)
            and service.kb().index.sentences[i].text not in judged.get(item.id, set())
        ]
        if not new:
            continue
        rng.shuffle(new)
        candidates = []
        for n, row_id in enumerate(new, 1):
            row = service.kb().index.sentences[row_id]
            cid = f"{item.id}-{n}"
            key[cid] = {"id": item.id, "sentence": row.text, "systems": sorted(found[row_id])}
            title = service.kb().index.documents[row.source_id].meta.title
            candidates.append({"cid": cid, "article": title, "heading": row.section, "sentence": row.text})
        pool.append(
            {"id": item.id, "question": item.question, "gold_evidence_already_listed": list(item.evidence),
             "candidates": candidates}
        )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    half = (len(pool) + 1) // 2
    for n, part in enumerate((pool[:half], pool[half:]), 1):
        (out / f"pool_{n}.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in part))
    (out / "key.json").write_text(json.dumps(key, ensure_ascii=False, indent=1))
    print(f"{len(pool)} questions, {len(key)} candidates: judge {out}/pool_1.jsonl and pool_2.jsonl")


def apply(out: Path) -> None:
    key = json.loads((out / "key.json").read_text())
    judged = [json.loads(line) for path in sorted(out.glob("judgments_*.jsonl")) for line in path.open()]
    missing = set(key) - {j["cid"] for j in judged}
    if missing or len(judged) != len(key):
        raise SystemExit(f"judgments incomplete or repeated: {len(judged)} lines for {len(key)} candidates")
    additions: dict[str, list[str]] = {}
    for j in judged:
        if j["answers"]:
            additions.setdefault(key[j["cid"]]["id"], []).append(key[j["cid"]]["sentence"])
    lines, added = [], 0
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        for snippet in additions.get(item["id"], []):
            if snippet not in item["evidence"]:
                item["evidence"].append(snippet)
                added += 1
        lines.append(json.dumps(item, ensure_ascii=False))
    GOLD.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with RECORD.open("a", encoding="utf-8") as record:
        for j in judged:
            record.write(
                json.dumps({**key[j["cid"]], "answers": j["answers"], "why": j["why"]}, ensure_ascii=False) + "\n"
            )
    print(f"{sum(j['answers'] for j in judged)} of {len(judged)} judged true; {added} snippets added to {GOLD}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("build", "apply"))
    parser.add_argument("out", type=Path)
    parser.add_argument("--depth", type=int, default=1, help="pool each system's outputs down to this rank")
    args = parser.parse_args()
    if args.step == "build":
        build(args.out, args.depth)
    else:
        apply(args.out)


if __name__ == "__main__":
    main()

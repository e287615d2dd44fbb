"""kbot medquad: MedQuAD's documents become a knowledge base folder that kbot reads whole, word for word.

The invariant every article keeps (``answer_words``): under each heading, the text is its sections' answers one after
the other, whitespace and stand-alone "-" list markers aside. Tested on a small synthetic file, and on the real
MedQuAD file in ../shared/medquad when it is there.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kbot.catalog import load_catalog
from kbot.chunking import sentence_rows
from kbot.config import Settings
from kbot.corpus import read_document
from kbot.domain import BlockKind, Status
from kbot.embedding import FakeEmbedder
from kbot.errors import KbotError
from kbot.folder import unread_files
from kbot.index import build_index
from kbot.medquad import convert
from kbot.medquad.article import grouped_answers, heading, title
from kbot.medquad.documents import MedquadDocument, Section, named, read_documents, spread
from kbot.medquad.kb_files import ATTRIBUTION, LICENCE, MANIFEST, PUBLISHERS
from kbot.medquad.layout import answer_words, pieces
from kbot.profile import load_profile
from test_cli import assert_friendly_failure, kbot_command

ROOT = Path(__file__).resolve().parents[1]
MEDQUAD = ROOT.parent / "shared" / "medquad"
K = BlockKind

GHR_TREATMENT = (
    "These resources address the diagnosis or management of activated PI3K-delta syndrome:  - Genetic Testing "
    "Registry: Activated PI3K-delta syndrome  - National Institute of Allergy and Infectious Diseases   These "
    "resources from MedlinePlus offer information:  - Diagnostic Tests  - Drug Therapy"
)
GARD_SYMPTOMS = (
    "What are the signs and symptoms of Axenfeld-Rieger syndrome? The Human Phenotype Ontology provides the "
    "following list of signs and symptoms for Axenfeld-Rieger syndrome. Signs and Symptoms Approximate number of "
    "patients (when available) Glaucoma 50% Hearing impairment 50% Cutis laxa 7.5% Aniridia - Hypodontia - "
    "Autosomal dominant inheritance - The Human Phenotype Ontology (HPO) has collected information on how often a "
    "sign or symptom occurs in a condition. Much of this information comes from Orphanet, a European rare disease "
    "database. The frequency of a sign or symptom is usually listed as a rough estimate of the percentage."
)
GARD_INFO = (
    "Axenfeld-Rieger syndrome is a group of eye disorders that affects the development of the eye. About 50% of "
    "people with this syndrome develop glaucoma. Click here to view a diagram of the eye. Most people with this "
    "syndrome have distinctive facial features. Is genetic testing available for Axenfeld-Rieger syndrome? Genetic "
    "testing is available for the PITX2 and FOXC1 genes."
)
SENIOR_INFO = (
    "Age-related macular degeneration, or AMD, is a disease that blurs the sharp, central vision you need.",
    "Wet AMD occurs when abnormal blood vessels behind the retina start to grow under the macula.",
)
CDC_ODD = "Hantavirus “HPS” is rare − about 1 in 10⁶; see *notes* # 3 and C:\\path for “details”.\n    - Café mice"


def doc(id: str, source: str, focus: str, split: str, *sections: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "id": id,
        "source": source,
        "url": f"https://example.nih.gov/{id}",
        "focus": focus,
        "split": split,
        "sections": [
            {"qid": f"{id}-{i}", "qtype": qtype, "question": question, "answer": answer}
            for i, (qtype, question, answer) in enumerate(sections, 1)
        ],
    }


DOCS = [
    doc(
        "GHR_0000012",
        "GHR",
        "activated PI3K-delta syndrome",
        "dev",
        (
            "information",
            "What is (are) activated PI3K-delta syndrome ?",
            "It impairs the immune system.  Another feature is abnormal clumping of white blood cells.",
        ),
        ("frequency", "How many people are affected by activated PI3K-delta syndrome ?", "The prevalence is unknown."),
        (
            "inheritance",
            "Is activated PI3K-delta syndrome inherited ?",
            "It is inherited in an autosomal dominant pattern.",
        ),
        ("treatment", "What are the treatments for activated PI3K-delta syndrome ?", GHR_TREATMENT),
    ),
    doc(
        "GARD_0000593",
        "GARD",
        "Axenfeld-Rieger syndrome",
        "dev",
        ("information", "What is (are) Axenfeld-Rieger syndrome ?", GARD_INFO),
        ("symptoms", "What are the symptoms of Axenfeld-Rieger syndrome ?", GARD_SYMPTOMS),
    ),
    doc(
        "NIHSeniorHealth_0000001",
        "NIHSeniorHealth",
        "Age-related Macular Degeneration",
        "dev",
        ("information", "What is (are) Age-related Macular Degeneration ?", SENIOR_INFO[0]),
        ("symptoms", "What are the symptoms of Age-related Macular Degeneration ?", "Straight lines appear wavy."),
        ("information", "What is (are) Age-related Macular Degeneration ?", SENIOR_INFO[1]),
        ("information", "What is (are) Age-related Macular Degeneration ?", "  " + SENIOR_INFO[0] + "\n"),
    ),
    doc(
        "CDC_0000100",
        "CDC",
        "Hantavirus",
        "dev",
        ("information", "What is (are) Hantavirus ?", CDC_ODD),
        ("prevention", "how can hps be prevented for Hantavirus ?", "Seal up holes inside and outside the home."),
        ("susceptibility", "what is the risk for my pet for Hantavirus ?", "There is no evidence that pets carry it."),
    ),
    doc(
        "NINDS_0000001",
        "NINDS",
        "Aicardi syndrome",
        "train",
        ("outlook", "What is the outlook for Aicardi syndrome ?", "The prognosis varies."),
    ),
    doc("NHLBI_0000001", "NHLBI", "Anemia", "test", ("causes", "What causes Anemia ?", "Blood loss can cause it.")),
    doc(
        "CancerGov_0000013_2",
        "CancerGov",
        "Polycythemia Vera",
        "dev",
        (
            "information",
            "What is (are) Polycythemia Vera ?",
            "Key Points\n   - It is a disease.    - It may cause no signs.\n\n  It is a disease.",
        ),
    ),
    doc(
        "CancerGov_0000013_2",
        "CancerGov",
        "Essential Thrombocythemia",
        "dev",
        ("information", "What is (are) Essential Thrombocythemia ?", "Essential thrombocythemia is a disease."),
    ),
    doc("CDC_0000199", "CDC", "", "dev", ("prevention", "How to prevent ?", "Vaccines prevent disease.")),
]


def write_data(folder: Path, docs: list[dict[str, Any]] = DOCS, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "documents.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs) + extra)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_data(tmp_path_factory.mktemp("medquad"))


@pytest.fixture(scope="module")
def kb(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kb") / "nih"
    convert(data.parent, out, splits=["dev"])
    return out


def sections_of(markdown: str) -> dict[str, str]:
    """An article's ``## `` headings and the text under each."""
    parts = re.split(r"^## (.*)$", markdown, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def blocks_of(kb: Path, stem: str) -> dict[str, tuple[K, str]]:
    meta = next(m for m in load_catalog(kb) if m.id == stem)
    return {b.text: (b.kind, b.dropped) for b in read_document(kb, meta).blocks}


def assert_answers_verbatim(folder: Path, docs: list[MedquadDocument]) -> None:
    """The invariant: under each heading, exactly its answers' words, in order; nothing else in the article."""
    for stem, d in named(docs):
        text = (folder / f"{stem}.md").read_text(encoding="utf-8")
        assert text.startswith(f"# {title(d.focus)}\n\n## ")
        got = sections_of(text)
        want = grouped_answers(d)
        assert list(got) == list(want), stem
        for name, answers in want.items():
            assert answer_words(got[name]) == [w for a in answers for w in answer_words(a)], (stem, name)


# ------------------------------------------------------------------------------------------------------------ folder


def test_each_dev_document_is_an_article_with_its_entry(kb: Path) -> None:
    metas = {m.id: m for m in load_catalog(kb)}
    assert set(metas) == {
        "GHR_0000012",
        "GARD_0000593",
        "NIHSeniorHealth_0000001",
        "CDC_0000100",
        "CancerGov_0000013_2",
        "CancerGov_0000013_2-2",  # MedQuAD repeats that id: the second document gets its own file
    }
    ghr = metas["GHR_0000012"]
    assert (ghr.title, ghr.publisher, ghr.url) == (
        "Activated PI3K-delta syndrome",
        "Genetics Home Reference",
        "https://example.nih.gov/GHR_0000012",
    )
    assert metas["CancerGov_0000013_2-2"].title == "Essential Thrombocythemia"
    assert {m.kind for m in metas.values()} == {"editorial"}
    assert {m.updated for m in metas.values()} == {""}
    assert sorted(p.name for p in kb.iterdir() if p.suffix != ".md") == [MANIFEST, "kb.toml", "sources.toml"]
    assert unread_files(kb) == []  # kbot warns about nothing in the folder


@pytest.mark.parametrize(("site", "publisher"), sorted(PUBLISHERS.items()))
def test_publisher_is_the_sites_real_name(tmp_path: Path, site: str, publisher: str) -> None:
    data = write_data(
        tmp_path / "in", [doc(f"{site}_1", site, "Gout", "dev", ("causes", "What causes Gout ?", "Uric acid."))]
    )
    convert(data, tmp_path / "kb")
    assert [m.publisher for m in load_catalog(tmp_path / "kb")] == [publisher]


def test_every_answer_is_under_its_heading_word_for_word(data: Path, kb: Path) -> None:
    docs = [d for d in read_documents(data) if d.split == "dev" and d.focus]
    assert_answers_verbatim(kb, docs)


def test_the_manifest_lists_each_document_and_its_split(kb: Path, data: Path) -> None:
    listing = json.loads((kb / MANIFEST).read_text(encoding="utf-8"))
    assert {(a["file"], a["id"], a["split"]) for a in listing["articles"]} >= {
        ("GHR_0000012.md", "GHR_0000012", "dev"),
        ("CancerGov_0000013_2-2.md", "CancerGov_0000013_2", "dev"),
    }
    assert len(listing["articles"]) == 6
    assert listing["skipped"] == [{"id": "CDC_0000199", "why": "it has no focus to title its article with"}]
    assert listing["selection"] == {"splits": ["dev"], "sources": [], "limit": None}


def test_kb_toml_has_title_intro_starters_and_attribution(kb: Path) -> None:
    settings = tomllib.loads((kb / "kb.toml").read_text(encoding="utf-8"))
    assert load_profile(kb).model_dump(include={"title", "intro", "starters", "attribution"}) == settings
    assert settings["title"] == "Ask about health topics (NIH)"
    assert "MedQuAD" in settings["intro"]
    assert settings["attribution"] == ATTRIBUTION
    assert "BMC Bioinformatics 20, 511 (2019)" in ATTRIBUTION and LICENCE in ATTRIBUTION
    starters = settings["starters"]
    assert len(starters) == 4
    assert all(s.endswith("?") for s in starters)
    focuses = {"Hantavirus", "Axenfeld-Rieger syndrome", "Age-related Macular Degeneration", "Polycythemia Vera",
               "Essential Thrombocythemia", "activated PI3K-delta syndrome"}  # fmt: skip
    assert all(any(f in s for f in focuses) for s in starters)
    assert len({next(f for f in focuses if f in s) for s in starters}) == 4  # four different articles


# ------------------------------------------------------------------------------------------------------------ headings


@pytest.mark.parametrize(
    ("qtype", "question", "expected"),
    [
        ("information", "What is (are) Gout ?", "What is Gout?"),
        ("information", "Do you have information about Gout", "What is Gout?"),
        ("symptoms", "What are the symptoms of Gout ?", "Symptoms"),
        ("causes", "What causes Gout ?", "Causes"),
        ("treatment", "What are the treatments for Gout ?", "Treatment"),
        ("exams and tests", "How to diagnose Gout ?", "Diagnosis"),
        ("outlook", "What is the outlook for Gout ?", "Outlook"),
        ("prevention", "How to prevent Gout ?", "Prevention"),
        ("inheritance", "Is Gout inherited ?", "Inheritance"),
        ("frequency", "How many people are affected by Gout ?", "Frequency"),
        ("genetic changes", "What are the genetic changes related to Gout ?", "Genetic changes"),
        ("susceptibility", "Who is at risk for Gout? ?", "Risk factors"),
        ("research", "what research (or clinical trials) is being done for Gout ?", "Research"),
        ("considerations", "What to do for Gout ?", "Considerations"),
        ("stages", "What are the stages of Gout ?", "Stages"),
        ("complications", "What are the complications of Gout ?", "Complications"),
        ("support groups", "Where to find support for people with Gout ?", "Support groups"),
        ("prevention", "how can hps be prevented for Gout ?", "How can hps be prevented?"),  # the site's own question
        ("information", "what is staphylococcus aureus?", "What is staphylococcus aureus?"),
    ],
)
def test_heading_by_kind_of_section_or_the_sites_own_question(qtype: str, question: str, expected: str) -> None:
    assert heading(Section("1", qtype, question, "Text."), "Gout") == expected


@pytest.mark.parametrize("focus", ["What I need to know about Gout", "Gout: What to Expect", "Your Guide to Gout"])
def test_a_booklets_title_is_no_topic_so_its_overview_is_no_question(focus: str) -> None:
    assert heading(Section("1", "information", f"What is (are) {focus} ?", "Text."), focus) == "Overview"


def test_headings_come_in_the_order_of_the_sections(kb: Path) -> None:
    text = (kb / "GHR_0000012.md").read_text(encoding="utf-8")
    assert list(sections_of(text)) == [
        "What is activated PI3K-delta syndrome?",
        "Frequency",
        "Inheritance",
        "Treatment",
    ]
    cdc = sections_of((kb / "CDC_0000100.md").read_text(encoding="utf-8"))
    assert list(cdc) == ["What is Hantavirus?", "How can hps be prevented?", "What is the risk for my pet?"]


def test_sections_of_one_kind_share_one_heading_and_a_repeat_is_written_once(kb: Path) -> None:
    text = (kb / "NIHSeniorHealth_0000001.md").read_text(encoding="utf-8")
    assert list(sections_of(text)) == ["What is Age-related Macular Degeneration?", "Symptoms"]
    overview = sections_of(text)["What is Age-related Macular Degeneration?"]
    assert overview.strip() == f"{SENIOR_INFO[0]}\n\n{SENIOR_INFO[1]}"


def test_question_headings_name_their_topic(kb: Path) -> None:
    """kbot offers question headings as suggestions: each must make sense alone."""
    for path in kb.glob("*.md"):
        topic = path.read_text(encoding="utf-8").split("\n", 1)[0][2:].casefold()
        own = {"How can hps be prevented?", "What is the risk for my pet?"}
        for name in sections_of(path.read_text(encoding="utf-8")):
            assert not name.endswith("?") or topic in name.casefold() or name in own, name


@pytest.mark.parametrize(
    ("focus", "expected"),
    [
        ("activated PI3K-delta syndrome", "Activated PI3K-delta syndrome"),
        ("age-related macular degeneration", "Age-related macular degeneration"),
        ("mTOR-related disorder", "mTOR-related disorder"),
        ("p53 deficiency", "p53 deficiency"),
        ("Chronic  Myelogenous Leukemia", "Chronic Myelogenous Leukemia"),
    ],
)
def test_the_focus_is_capitalised_as_a_title(focus: str, expected: str) -> None:
    assert title(focus) == expected


# ------------------------------------------------------------------------------------------------------------ layout


def test_list_markers_become_list_items_and_runs_of_spaces_paragraphs(kb: Path) -> None:
    blocks = blocks_of(kb, "GHR_0000012")
    assert blocks["It impairs the immune system."] == (K.PARAGRAPH, "")
    assert blocks["Another feature is abnormal clumping of white blood cells."] == (K.PARAGRAPH, "")
    assert blocks["Genetic Testing Registry: Activated PI3K-delta syndrome"] == (K.LIST_ITEM, "")
    assert blocks["National Institute of Allergy and Infectious Diseases"] == (K.LIST_ITEM, "")
    assert blocks["These resources from MedlinePlus offer information:"] == (K.PARAGRAPH, "")
    assert blocks["Drug Therapy"] == (K.LIST_ITEM, "")


def test_gards_table_rows_are_items_and_its_question_a_heading(kb: Path) -> None:
    blocks = blocks_of(kb, "GARD_0000593")
    assert blocks["What are the signs and symptoms of Axenfeld-Rieger syndrome?"] == (K.HEADING, "")
    for row in ("Glaucoma 50%", "Cutis laxa 7.5%", "Aniridia", "Hypodontia", "Autosomal dominant inheritance"):
        assert blocks[row] == (K.LIST_ITEM, "")
    prose = [t for t in blocks if t.startswith("The Human Phenotype Ontology (HPO) has collected")]
    assert [blocks[t] for t in prose] == [(K.PARAGRAPH, "")]  # the paragraph after the list, not its last item


def test_a_sentence_cleaning_drops_goes_alone_and_the_paragraph_stays(kb: Path) -> None:
    blocks = blocks_of(kb, "GARD_0000593")
    assert blocks["Click here to view a diagram of the eye."] == (K.PARAGRAPH, "call_to_action")
    kept = [
        t for t, (_, dropped) in blocks.items() if t.startswith("Axenfeld-Rieger syndrome is a group") and not dropped
    ]
    assert kept and "glaucoma." in kept[0]
    assert blocks["Is genetic testing available for Axenfeld-Rieger syndrome?"] == (K.HEADING, "")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Put it in warm - not hot - water.", [("Put it in warm - not hot - water.", False)]),
        ("Risks include - Smoking  - Obesity", [("Risks include", False), ("Smoking", True), ("Obesity", True)]),
        (
            "It spreads. - Wash your hands. - Cook food.",
            [("It spreads.", False), ("Wash your hands.", True), ("Cook food.", True)],
        ),
        ("Line one.\n\n   Line two.", [("Line one.", False), ("Line two.", False)]),
        ("Genes - ", [("Genes", False)]),
        (
            "Signs include:  - coma  - death. Learn more about the risks of an overdose.",  # cleaning drops the last
            [
                ("Signs include:", False),
                ("coma", True),
                ("death.", True),
                ("Learn more about the risks of an overdose.", False),
            ],
        ),
    ],
)
def test_pieces_of_an_answer(answer: str, expected: list[tuple[str, bool]]) -> None:
    assert [(p.text, p.item) for p in pieces(answer)] == expected


def test_odd_characters_are_kept_and_markdown_cannot_swallow_them(kb: Path) -> None:
    text = (kb / "CDC_0000100.md").read_text(encoding="utf-8")
    assert "Hantavirus “HPS” is rare − about 1 in 10⁶; see *notes* # 3 and C:\\path for “details”." in text
    assert "\n- Café mice\n" in text
    blocks = blocks_of(kb, "CDC_0000100")
    assert blocks["Café mice"] == (K.LIST_ITEM, "")


# ------------------------------------------------------------------------------------------------------------ choosing


def test_split_and_source_select_documents_in_any_case(data: Path, tmp_path: Path) -> None:
    result = convert(data, tmp_path / "kb", splits=["DEV", "test"], sites=["cancergov", "NHLBI"])
    assert sorted(stem for stem, _ in result.articles) == [
        "CancerGov_0000013_2",
        "CancerGov_0000013_2-2",
        "NHLBI_0000001",
    ]
    assert "dev 2, test 1" in result.report()


def test_limit_spreads_evenly_through_the_documents(data: Path) -> None:
    entries = [(str(i), read_documents(data)[0]) for i in range(10)]
    assert [stem for stem, _ in spread(entries, 3)] == ["0", "3", "6"]
    assert len(spread(entries, 50)) == 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"splits": ["validation"]}, "MedQuAD has no split 'validation'"),
        ({"sites": ["WebMD"]}, "MedQuAD has no source 'WebMD'"),
        ({"limit": 0}, "--limit 0 would convert nothing"),
        ({"splits": ["train"], "sites": ["GARD"]}, "No document of MedQuAD matches"),
    ],
)
def test_a_selection_that_cannot_be_used_is_a_clear_error(
    data: Path, tmp_path: Path, kwargs: Any, message: str
) -> None:
    with pytest.raises(KbotError, match=re.escape(message)):
        convert(data, tmp_path / "kb", **kwargs)
    assert not (tmp_path / "kb").exists()


# ------------------------------------------------------------------------------------------------------------ bad input


def bad_file(tmp_path: Path, kind: str) -> Path:
    if kind == "missing":
        return tmp_path / "nowhere"
    if kind == "truncated":
        path = write_data(tmp_path)
        path.write_bytes(path.read_bytes()[:200])
        return path
    lines = {
        "bad JSON": '{"id": "x",\n',
        "an array": "[1, 2]\n",
        "no focus field": json.dumps({k: v for k, v in DOCS[0].items() if k != "focus"}) + "\n",
        "an unknown split": json.dumps({**DOCS[0], "split": "validation"}) + "\n",
        "a section that is text": json.dumps({**DOCS[0], "sections": ["What?"]}) + "\n",
    }
    return write_data(tmp_path, DOCS[:2], lines[kind])


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "nowhere does not exist"),
        ("truncated", "cannot be read"),
        ("bad JSON", "line 3 is not valid JSON"),
        ("an array", "line 3 is JSON but not an object"),
        ("no focus field", "line 3 has no 'focus'"),
        ("an unknown split", "line 3 has split 'validation'"),
        ("a section that is text", "line 3, section 1 is not an object"),
    ],
)
def test_a_bad_file_is_a_clear_error_that_names_the_line(tmp_path: Path, kind: str, message: str) -> None:
    with pytest.raises(KbotError, match=re.escape(message)):
        convert(bad_file(tmp_path, kind), tmp_path / "kb")
    assert not (tmp_path / "kb").exists()


# ------------------------------------------------------------------------------------------------------------ writing


def test_a_folder_that_is_not_empty_is_never_overwritten_unless_told(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "kb"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(KbotError, match="not empty"):
        convert(data, out)
    with pytest.raises(KbotError, match="not a knowledge base kbot medquad wrote"):
        convert(data, out, force=True)  # --force replaces only what kbot medquad wrote
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_force_replaces_a_knowledge_base_it_wrote(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "kb"
    convert(data, out, sites=["GHR"])
    convert(data, out, sites=["GARD"], force=True)
    assert [m.id for m in load_catalog(out)] == ["GARD_0000593"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kb"]  # nothing left beside it


def test_an_empty_folder_is_used(data: Path, tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    convert(data, tmp_path / "kb", sites=["GHR"])
    assert (tmp_path / "kb" / "GHR_0000012.md").is_file()


def test_a_failure_midway_leaves_no_half_knowledge_base(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kbot.medquad.converter as converter

    def broken(doc: MedquadDocument) -> str:
        if doc.source == "GHR":
            raise OSError(28, "No space left on device")
        return "# T\n"

    monkeypatch.setattr(converter, "article", broken)
    with pytest.raises(OSError):
        convert(data, tmp_path / "kb")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------------------ the CLI


def run_kbot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*kbot_command(), *args], capture_output=True, text=True, timeout=120)


def test_kbot_medquad_prints_what_it_wrote(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "kb"
    result = run_kbot("medquad", str(data.parent), "--out", str(out), "--split", "dev", "--source", "GHR")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Wrote 1 article to {out} (dev 1; GHR 1)")
    assert f"""Next: export KBOT_KNOWLEDGE_BASES='{{"kb": "{out}"}}', then kbot sources --kb kb""" in result.stdout
    again = run_kbot("medquad", str(data.parent), "--out", str(out))
    assert_friendly_failure(again)
    assert "--force" in again.stderr


# ------------------------------------------------------------------------------------------------------------ real data

real = pytest.mark.skipif(not (MEDQUAD / "documents.jsonl.gz").is_file(), reason=f"MedQuAD is not in {MEDQUAD}")


@pytest.fixture(scope="module")
def real_docs() -> list[MedquadDocument]:
    return read_documents(MEDQUAD)


@pytest.fixture(scope="module")
def real_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("real") / "nih"
    convert(MEDQUAD, out, splits=["dev"], limit=20)
    return out


@real
def test_twenty_dev_documents_convert_and_kbot_reads_them_all(real_kb: Path, real_docs: list[MedquadDocument]) -> None:
    metas = load_catalog(real_kb)
    assert len(metas) == 20
    by_id = {stem: d for stem, d in named(real_docs)}
    assert {by_id[m.id].split for m in metas} == {"dev"}
    assert all(m.publisher == PUBLISHERS[by_id[m.id].source] and m.url == by_id[m.id].url for m in metas)
    assert len({by_id[m.id].source for m in metas}) >= 4  # spread over the sites
    assert_answers_verbatim(real_kb, [by_id[m.id] for m in metas])
    assert unread_files(real_kb) == []


@real
def test_real_headings_follow_the_kind_of_section(real_kb: Path, real_docs: list[MedquadDocument]) -> None:
    by_id = {stem: d for stem, d in named(real_docs)}
    for path in real_kb.glob("*.md"):
        d = by_id[path.stem]
        assert list(sections_of(path.read_text(encoding="utf-8"))) == list(grouped_answers(d))
        if any(s.qtype == "symptoms" and s.question.startswith("What are the symptoms of") for s in d.sections):
            assert "Symptoms" in sections_of(path.read_text(encoding="utf-8"))


@real
def test_real_articles_build_an_index_kbot_answers_from(
    real_kb: Path, tmp_path: Path, make_settings: Callable[..., Settings], fake_embedder: FakeEmbedder
) -> None:
    from kbot.service import KbotService

    manifest = build_index(real_kb, tmp_path / "index" / "default", fake_embedder)
    assert manifest["counts"]["documents"] == 20
    settings = make_settings(seeds_dir=real_kb, index_dir=tmp_path / "index", model_name=FakeEmbedder.name)
    service = KbotService.load(settings, embedder=fake_embedder)
    starters = tomllib.loads((real_kb / "kb.toml").read_text(encoding="utf-8"))["starters"]
    for question in starters:
        answer = service.ask(question)
        assert answer.status is Status.ANSWERED, question
        for quote in answer.quotes:
            with (real_kb / quote.source_file).open(encoding="utf-8", newline="") as f:
                assert f.read()[quote.start : quote.end] == quote.text


@real
def test_cleaning_keeps_nearly_all_of_200_dev_articles(tmp_path: Path) -> None:
    """Measured: 99.9% of blocks kept over 200 dev articles; what goes is "Click here ..." and phone numbers."""
    convert(MEDQUAD, tmp_path / "kb", splits=["dev"], limit=200)
    blocks = [b for m in load_catalog(tmp_path / "kb") for b in read_document(tmp_path / "kb", m).blocks]
    dropped = Counter(b.dropped for b in blocks if b.dropped)
    assert 1 - sum(dropped.values()) / len(blocks) >= 0.995, dropped
    assert set(dropped) <= {"call_to_action", "phone_number", "teaser", "contact_email"}


def test_a_list_of_links_stays_in_the_article_but_is_never_quoted(kb: Path) -> None:
    meta = next(m for m in load_catalog(kb) if m.id == "GHR_0000012")
    text = (kb / "GHR_0000012.md").read_text(encoding="utf-8")
    assert len(meta.do_not_quote) == 1 and meta.do_not_quote[0] in text
    assert meta.do_not_quote[0].startswith("These resources address") and meta.do_not_quote[0].endswith("Drug Therapy")
    rows = sentence_rows([read_document(kb, meta)])
    assert {r.text for r in rows if r.withheld} == {
        "These resources address the diagnosis or management of activated PI3K-delta syndrome:",
        "Genetic Testing Registry: Activated PI3K-delta syndrome",
        "National Institute of Allergy and Infectious Diseases",
        "These resources from MedlinePlus offer information:",
        "Diagnostic Tests",
        "Drug Therapy",
    }
    assert all(r.quotable for r in rows if "autosomal dominant" in r.text)

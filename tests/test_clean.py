"""Cleaning: every kind of furniture and promotion in the seeds is dropped by its rule, article prose is kept, and the
rules catch the same kinds of thing in articles they were not written from."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from kbot.catalog import load_catalog
from kbot.chunking import sentence_rows
from kbot.clean import explain, line_rule, mark_furniture, promotional_sentence, rules, signals
from kbot.corpus import parse_blocks, read_document
from kbot.domain import Block, BlockKind, Document, SourceMeta
from kbot.index import read_corpus

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


@cache
def doc(prefix: str) -> Document:
    meta = next(m for m in load_catalog(SEEDS) if m.id.startswith(prefix))
    return read_document(SEEDS, meta)


def block(d: Document, start: str) -> Block:
    found = [b for b in d.blocks if b.text.replace("\u00a0", " ").startswith(start)]  # the seeds hold no-break spaces
    assert len(found) >= 1, f"no block starts with {start!r}"
    return found[0]


# (source, how the block starts, the rule that must drop it): one or more cases for each kind of furniture in the seeds
DROPPED = [
    ("000", "various bottles of drugs spilled on the counter", "image_caption"),  # alt text
    ("000", "Ketamine Isn’t an Opioid and Treats Depression in a Unique WayCredit: Getty Images", "image_caption"),
    ("000", "Lab manager academy logo", "image_caption"),
    ("000", "Trevor Henderson headshot", "image_caption"),
    ("000", "Lab Manager October 2025 Cover Image", "image_caption"),
    ("000", "Is ketamine an opioid? Discover the real science", "teaser"),
    ("000", "Written byTrevor J Henderson", "byline"),
    ("000", "Updated | 4 min read", "byline"),
    ("000", "Register for free to listen to this article", "audio_player"),
    ("000", "Listen with Speechify", "audio_player"),
    ("000", "0:00", "audio_player"),
    ("000", "4:00", "audio_player"),
    ("000", "Lab Management Certificate", "course_ad"),
    ("000", "The Lab Management certificate is more than training", "course_ad"),
    ("000", "Gain critical skills and IACET-approved CEUs", "course_ad"),
    ("000", "Interested in life sciences?", "newsletter"),
    ("000", "Subscribe to our free Life Sciences Newsletter.", "newsletter"),
    ("000", "Is the form not loading?", "newsletter"),
    ("000", "By subscribing, you agree to receive email", "newsletter"),
    ("000", "About the Author", "author_bio"),
    ("000", "Trevor Henderson BSc (HK), MSc, PhD (c)", "contact_email"),
    ("000", "View Full Profile", "author_bio"),
    ("000", "Related Topics", "navigation"),
    ("000", "Loading Next Article...", "navigation"),
    ("000", "CURRENT ISSUE - October 2025", "navigation"),
    ("000", "Turning Safety Principles Into Daily Practice", "navigation"),
    ("000", "Move Beyond Policies to Build a Lab Culture", "navigation"),
    ("001", "Looking for Spravato or ketamine treatment near you?", "promotional_section"),
    ("001", "Pacific Mind Health offers Spravato (esketamine)", "promotional_section"),
    ("001", "Located in Southern California and serving patients", "promotional_section"),
    ("001", "Ready to take the next step? Schedule a free consultation", "call_to_action"),
    ("002", "Contact Ketamine Clinics of Los Angeles", "promotional_section"),
    ("002", "Are you or someone you love suffering from a mood disorder", "promotional_section"),
    ("002", "Postpartum depression", "promotional_section"),  # the list of conditions under the contact pitch
    ("002", "If the answer is yes, we encourage you to contact Dr. Steven L. Mandel", "promotional_section"),
    ("002", "We encourage you to visit our website at or contact us at 424-343-8889", "phone_number"),
    ("002", "For more information about Ketamine Infusion Therapy treatments", "phone_number"),
    ("002", "Share Now :", "share_buttons"),
    ("002", "Request An Appointment", "call_to_action"),
    ("003", "Last Updated: August 22, 2024", "byline"),
    ("003", "Editorial Policy | Research Policy", "byline"),
    ("003", "Recovering From Drug and Alcohol Addiction", "promotional_section"),
    ("003", "For those seeking alcohol addiction treatment, The Recovery Village", "promotional_section"),
    ("003", "When you or a loved one are ready to embark", "promotional_section"),
    ("003", "Get your life back", "promotional_section"),
    ("003", "Recovery is possible. Begin your journey today", "promotional_section"),
    ("003", "Call Us Now Admissions Check Insurance", "call_to_action"),
    ("003", "What To Expect", "promotional_section"),
    ("003", "When you call our team, you will speak to a Recovery Advocate", "call_to_action"),
    ("003", "All calls are 100% free and confidential.", "promotional_section"),
    ("004", "Ketamine Treatment for Depression is Available", "call_to_action"),  # heads only a call to action
    ("004", "At Neuro Wellness Spa, IV ketamine infusions are available", "call_to_action"),
    ("004", "Leave a Reply", "comment_form"),
    ("004", "Your email address will not be published.", "comment_form"),
    ("004", "Get in touch", "call_to_action"),
    ("004", "Contact Us", "call_to_action"),
    ("004", "Could TMS Therapy Be Right For You?", "lead_gen_quiz"),
    ("004", "I struggle with depression, OCD or anxiety.", "lead_gen_quiz"),
    ("004", "I am experiencing sadness, low energy", "lead_gen_quiz"),
    ("004", "I have tried talk therapy", "lead_gen_quiz"),
    ("004", "Has your doctor/therapist suggested you try TMS?", "lead_gen_quiz"),
    ("004", "Mental Health, Reimagined.", "call_to_action"),  # the slogan after "Contact Us" ends the page
    ("004", "Call Us Today", "call_to_action"),
]


@pytest.mark.parametrize(("prefix", "start", "rule"), DROPPED, ids=[f"{p}-{s[:30]}" for p, s, _ in DROPPED])
def test_furniture_in_the_seeds_is_dropped(prefix: str, start: str, rule: str) -> None:
    assert block(doc(prefix), start).dropped == rule


KEPT = [
    ("000", "Is Ketamine an Opioid? Understanding Its Unique Antidepressant Mechanism"),  # the title
    ("000", "Despite growing clinical use for treatment-resistant depression"),
    ("000", "This viewpoint is strongly advocated by Dr. Adam Kaplin"),
    ("000", "When glutamate activates NMDA receptors"),
    ("000", "Here's how it works:"),
    ("000", "Labeling ketamine as an opioid carries significant consequences:"),
    ("000", "Stigma: In the midst of an opioid epidemic"),
    ("000", '"This interference and cross-talk does not mean that ketamine is an opioid," says Kaplin.'),
    ("000", "Recognizing this potential, Kaplin and his colleagues at Johns Hopkins"),  # a clinic, but not promotion
    ("000", "FAQs"),
    ("000", "No, ketamine is not an opioid. It primarily acts on NMDA receptors"),
    ("000", "Yes. Mislabeling ketamine as an opioid may contribute to stigma"),
    ("000", "Ketamine is not an opioid. Misconceptions surrounding its mechanism"),  # "how we treat depression"
    ("001", "Key takeaways"),
    ("001", "If you’ve been exploring ketamine as a treatment"),  # "whether it might be right for you"
    ("001", "“What makes ketamine genuinely different from conventional antidepressants"),
    ("001", "Research in this area is ongoing"),  # "Schedule III controlled substance"
    ("001", "Drug classification. Ketamine is a Schedule III controlled substance"),
    ("001", "At Pacific Mind Health, ketamine is offered as compounded intranasal ketamine"),  # see kbot.clean
    ("001", "Spravato® is the FDA-approved nasal spray form"),
    ("001", "Neither ketamine nor Spravato is an opioid"),
    ("001", "This is an important clinical question that should be discussed"),
    ("001", "Spravato (esketamine) is a nasal spray form of esketamine"),  # "insurance coverage" in a FAQ answer
    ("002", "New Study: Does Ketamine Work Like an Opioid?"),
    ("002", "The American Journal of Psychiatry indicates"),
    ("002", "This small-scale study does not, of course, indicate"),
    ("003", "Ketamine is a dissociative anesthetic, not an opioid, with unique sedative"),
    ("003", "By injection"),
    ("003", "The drug’s regulation is also complex due to its Schedule III classification"),
    ("003", "Despite its current FDA approval solely as an anesthetic"),  # "ketamine clinics offering infusions"
    ("003", "The future of opioids in medicine is also likely to be shaped"),  # "Enhanced training"
    ("003", "Overall, future uses of opioids in medicine"),  # the last prose before the promotion
    ("004", "With the dangers of ketamine in recreational use"),
    ("004", "Scientists at Stanford University recently held a randomized"),
    ("004", "Ketamine has proven to be an effective treatment in itself thus far."),  # "medically trained staff"
]


@pytest.mark.parametrize(("prefix", "start"), KEPT, ids=[f"{p}-{s[:30]}" for p, s in KEPT])
def test_article_prose_is_kept(prefix: str, start: str) -> None:
    assert block(doc(prefix), start).dropped == ""


@pytest.mark.parametrize("prefix", ["000", "001"])
def test_every_faq_answer_is_kept(prefix: str) -> None:
    d = doc(prefix)
    answers = [
        b for b in d.blocks if b.kind is BlockKind.FAQ_ANSWER and not b.text.startswith(("Subscribe", "Is the", "By "))
    ]
    assert len(answers) == (4 if prefix == "000" else 5)
    assert all(b.kept for b in answers)


@pytest.mark.parametrize("prefix", ["001", "003"])
def test_every_key_takeaway_is_kept(prefix: str) -> None:
    d = doc(prefix)
    heading = next(b for b in d.blocks if b.text.lower() == "key takeaways")
    items = [b for b in d.blocks if b.kind is BlockKind.LIST_ITEM and b.section == heading.text]
    assert len(items) in (5, 10) and all(b.kept for b in items)


def test_003_is_prose_up_to_its_promotional_end() -> None:
    d = doc("003")
    promo = block(d, "Recovering From Drug and Alcohol Addiction").index
    assert all(b.kept for b in d.blocks[2:promo] if not b.text.startswith("Editorial Policy"))
    assert not any(b.kept for b in d.blocks[promo:])


# Phone numbers, e-mail addresses and the words of a pitch, written independently of the rules under test.
PHONE = re.compile(r"\(?\d{3}\)?[\s.-]*\d{3}[\s.-]*\d{4}|\+\d[\d\s().-]{7,}\d")
EMAIL = re.compile(r"\S+@\S+\.\w+")
PITCH = re.compile(
    r"schedule (a|an|your)\b|appointment|consultation|subscrib|newsletter|(check|verify) (your )?insurance|"
    r"insurance (plans?|accepted)|call us|contact us|call (today|now)|our (team|staff|clinic|offices?)|we offer|"
    r"admissions|near you|sign up|free and confidential",
    re.IGNORECASE,
)


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_no_kept_sentence_is_contact_or_pitch(prefix: str) -> None:
    for s in doc(prefix).sentences:
        assert not PHONE.search(s.text), s.text
        assert not EMAIL.search(s.text), s.text
        assert not PITCH.search(s.text), s.text


def test_each_seed_keeps_most_of_its_prose() -> None:
    """Cleaning that dropped real content would show here first: the kept share of words per seed."""
    for d in read_corpus(SEEDS):
        kept = sum(len(b.text.split()) for b in d.kept_blocks)
        total = sum(len(b.text.split()) for b in d.blocks)
        assert kept / total > {"000": 0.75, "001": 0.9, "002": 0.7, "003": 0.9, "004": 0.75}[d.meta.id[:3]]


# ---------------------------------------------------------------------------------------------- new articles

NEW_LINES = [
    ("Call (212) 555-0147 to book your first visit.", "phone_number"),
    ("Questions? Reach our front desk at 212.555.0147.", "phone_number"),
    ("Our London office: +44 20 7946 0958", "phone_number"),
    ("Call 1-800-GET-HELP any time.", "phone_number"),
    ("Write to care@sunrise-wellness.example with your questions.", "contact_email"),
    ("Get our weekly Brain Health newsletter delivered to your inbox.", "newsletter"),
    ("Enter your email address", "newsletter"),
    ("Sign Up", "newsletter"),
    ("Book a free consultation with Sunrise Wellness today.", "call_to_action"),
    ("Verify your insurance in two minutes", "call_to_action"),
    ("Request a callback", "call_to_action"),
    ("Photo: Adobe Stock", "image_caption"),
    ("a woman sitting on a couch talking with her therapist", "image_caption"),
    ("Dr. Maria Lopez portrait", "image_caption"),
    ("By Jane Doe", "byline"),
    ("Medically reviewed by Ann Lee, MD", "byline"),
    ("Published: March 3, 2025", "byline"),
    ("6 min read", "byline"),
    ("Earn 2 CEUs in our addiction medicine webinar", "course_ad"),
    ("Take our free self-assessment", "lead_gen_quiz"),
    ("I feel hopeless most days.", "lead_gen_quiz"),
    ("Post Comment", "comment_form"),
    ("You May Also Like", "navigation"),
    ("Share this article", "share_buttons"),
    ("Play audio", "audio_player"),
    ("• • •", "decoration"),
]


@pytest.mark.parametrize(("text", "rule"), NEW_LINES, ids=[t[:30] for t, _ in NEW_LINES])
def test_rules_generalise_to_new_lines(text: str, rule: str) -> None:
    kind = BlockKind.HEADING if not text.endswith(".") else BlockKind.PARAGRAPH
    assert line_rule(Block(0, kind, 0, len(text), text)) == rule


NEW_PROSE = [
    "Ketamine can raise blood pressure for a short time, so your clinician will check it before and after a dose.",
    "By injection, ketamine acts within minutes.",
    "Ask your doctor whether ketamine is right for you.",
    "In 2019 the FDA approved esketamine for adults with treatment-resistant depression.",
    "Schedule III drugs have a moderate to low potential for dependence.",
    "Patients often call the first session strange but not unpleasant.",
]


@pytest.mark.parametrize("text", NEW_PROSE, ids=[t[:30] for t in NEW_PROSE])
def test_new_prose_is_not_furniture(text: str) -> None:
    assert line_rule(Block(0, BlockKind.PARAGRAPH, 0, len(text), text)) == ""


CLINIC_PAGE = """\
Can Ketamine Help Chronic Pain?

Ketamine can reduce some kinds of chronic nerve pain when other medicines have not helped. It blocks NMDA receptors, \
which take part in the way the spinal cord amplifies pain signals, and low doses rarely cause the breathing problems \
that opioids can. Our team notes that relief often fades within weeks.

Why Choose Sunrise Wellness

Sunrise Wellness provides ketamine infusions in a calm, private setting.

Our board-certified physicians and caring staff will guide you through every step.

Most insurance plans accepted.

Stay Informed

Get the latest research delivered to your inbox every month.

Enter your email address

Sign Up
"""


def test_a_new_clinic_page(tmp_path: Path) -> None:
    meta = SourceMeta(id="x", file="x.txt", title="Can Ketamine Help Chronic Pain?", publisher="Sunrise Wellness")
    blocks = mark_furniture(parse_blocks(CLINIC_PAGE, meta), meta)
    status = {b.text.split(".")[0]: b.dropped for b in blocks}
    assert status == {
        "Can Ketamine Help Chronic Pain?": "",
        "Ketamine can reduce some kinds of chronic nerve pain when other medicines have not helped": "",  # prose
        "Why Choose Sunrise Wellness": "promotional_section",
        "Sunrise Wellness provides ketamine infusions in a calm, private setting": "promotional_section",
        "Our board-certified physicians and caring staff will guide you through every step": "promotional_section",
        "Most insurance plans accepted": "promotional_section",
        "Stay Informed": "newsletter",
        "Get the latest research delivered to your inbox every month": "newsletter",
        "Enter your email address": "newsletter",
        "Sign Up": "newsletter",
    }


def test_an_editorial_tail_is_dropped_whatever_it_holds() -> None:
    meta = SourceMeta(id="y", file="y.txt", title="T", publisher="Health Weekly")
    text = "T\n\nKetamine is not an opioid.\n\nReferences\n\nSmith J. Ketamine and the brain. 2020.\n"
    blocks = mark_furniture(parse_blocks(text, meta), meta)
    assert [b.dropped for b in blocks] == ["", "", "references", "references"]


def test_the_rules_file_loads_and_every_pattern_compiles() -> None:
    r = rules()
    names = {rule.name for rule in r.lines}
    assert {"phone_number", "newsletter", "call_to_action", "byline", "image_caption"} <= names
    assert r.promo_rules <= names | {"promotional_section"}


def test_explain_shows_what_is_kept_and_dropped() -> None:
    d = doc("000")
    listing = explain(d)
    lines = listing.splitlines()
    assert lines[1].startswith(f"{len(d.blocks)} blocks: {len(d.kept_blocks)} kept")
    assert f"{len(d.sentences)} sentences" in lines[1]
    assert any("DROPPED(newsletter)" in line and "Subscribe to our free" in line for line in lines)
    assert any("KEPT" in line and "Despite growing clinical use" in line for line in lines)
    assert "§ Why This Distinction Matters" in listing
    assert any(line.split()[0] == "100" and "newsletter" in line for line in lines if line.strip())  # file line numbers


# Prose that opens with "Contact" (NIDDK's list of causes of abdominal adhesions: "contact of internal tissues with
# foreign materials") once counted as a promotion signal, and its one-paragraph section was dropped whole.
CAUSES = """\
Causes

Abdominal surgery is the most frequent cause of abdominal adhesions. Surgery-related causes include

- cuts involving internal organs
- contact of internal tissues with foreign materials, such as gauze, surgical gloves, and stitches
"""


def test_contact_in_prose_is_no_promotion_signal() -> None:
    meta = SourceMeta(id="z", file="z.md", title="Abdominal Adhesions", publisher="NIDDK")
    blocks = mark_furniture(parse_blocks(CAUSES, meta, markdown=True), meta)
    assert [b.dropped for b in blocks] == ["", "", "", ""]
    pitch = "Contact Sunrise Wellness for an appointment"
    assert signals(Block(0, BlockKind.PARAGRAPH, 0, len(pitch), pitch), meta) >= 1


# --- advertising sentences inside prose ---------------------------------------------------------------------------

AD = "For a spacer discount, call 555-0199 now and use code FREE50 at the front desk."
ASTHMA = f"""Spacers and inhalers

A spacer is a tube that fits on an inhaler. It holds the medicine so a child can breathe it in slowly. {AD} Rinse \
the spacer once a week and let it dry in the air.
"""


@pytest.mark.parametrize(
    ("sentence", "rule"),
    [
        (AD, "phone_number"),
        ("Text us at 555 0199 to book.", "phone_number"),
        ("Call our clinic at (310) 270-0625 today.", "phone_number"),  # the line rule's numbers count too
        ("Enter promo code SAVE20 at checkout.", "promo_code"),
        ("Mention FREE50 when you book your first visit.", "promo_code"),
        ("Get 20% off your first session!", "promo_code"),
        ("Ask about our $50 off offer.", "promo_code"),
        # prose that only looks like it
        ("Doses of 100-1000 mg were compared.", ""),
        ("About 20% off-label use was reported.", ""),
        ("The ICD10 code F32 covers a depressive episode.", ""),
        ("Patients with a do-not-resuscitate code status were excluded.", ""),
        ("Between 1990-2005, 555 patients were followed.", ""),
    ],
)
def test_a_sentence_that_advertises_is_named_by_its_rule(sentence: str, rule: str) -> None:
    assert promotional_sentence(sentence) == rule


@pytest.fixture
def asthma_kb(tmp_path: Path) -> Path:
    """A knowledge base of another specialty, with an advertisement in the middle of a paragraph of real prose."""
    folder = tmp_path / "asthma"
    folder.mkdir()
    (folder / "spacers.txt").write_text(ASTHMA, encoding="utf-8")
    (folder / "sources.toml").write_text(
        '["spacers.txt"]\ntitle = "Spacers and inhalers"\npublisher = "Lung Health"\nurl = ""\nupdated = ""\n'
        'kind = "editorial"\n',
        encoding="utf-8",
    )
    return folder


def test_an_advertising_sentence_is_withheld_and_its_paragraph_kept(asthma_kb: Path) -> None:
    (document,) = read_corpus(asthma_kb)
    rows = sentence_rows([document])
    quotable = [r.text for r in rows if r.quotable]
    assert AD not in quotable and any(r.text == AD and r.withheld for r in rows)
    assert "It holds the medicine so a child can breathe it in slowly." in quotable
    assert "Rinse the spacer once a week and let it dry in the air." in quotable


def test_an_advertising_sentence_is_never_quoted(asthma_kb: Path, tmp_path: Path) -> None:
    from kbot.config import Settings
    from kbot.embedding import FakeEmbedder
    from kbot.index import build_index
    from kbot.service import KbotService

    build_index(asthma_kb, tmp_path / "index" / "default", FakeEmbedder())
    settings = Settings(
        seeds_dir=asthma_kb,
        index_dir=tmp_path / "index",
        model_name=FakeEmbedder.name,
        min_dense_score=0.0,
        reader=False,
    )
    service = KbotService.load(settings, embedder=FakeEmbedder())
    for question in ("Is there a spacer discount code?", "What number do I call for a spacer discount?"):
        answer = service.ask(question)
        assert answer.quotes, "the question is answered (from the rest of the article)"
        assert all("555-0199" not in q.text and "FREE50" not in q.text for q in answer.quotes)

"""The safety rules in two parts: the packaged ones, true of any health text, and a knowledge base's additions in its
own safety.toml (kbot.safety_rules merges them; SafetyGate.from_file(extra) loads both)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from kbot.errors import KbotError
from kbot.safety import SafetyGate, Verdict
from kbot.safety_rules import load_rules, rules_in

ROOT = Path(__file__).resolve().parents[1]
KB_RULES = ROOT / "seeds" / "safety.toml"

# A made-up knowledge base's additions: a medicine name, a spelling, a phrase, a framing, a bank of its own.
EXTRA = """
[vars]
meds = 'zorblax'
therapy = 'glimmer therapy'

[normalise.words]
zbx = "zorblax"

[crisis.ideation]
phrases = ["purple elephant"]

[crisis.stampede]
emergency = "medical"
phrases = ["stampede now"]

[educational]
patterns = ['in the leaflet']

[advice.acts]
patterns = ['glimmer']
"""


@pytest.fixture
def extra(tmp_path: Path) -> Path:
    path = tmp_path / "safety.toml"
    path.write_text(EXTRA, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def packaged() -> SafetyGate:
    return SafetyGate.from_file()


def test_the_packaged_rules_name_no_knowledge_base_topic() -> None:
    text = resources.files("kbot").joinpath("data/safety.toml").read_text(encoding="utf-8").lower()
    named = re.findall(r"ketamin\w*|esketamine|spravato|special k|opioid\w*|opiate\w*|naltrexone", text)
    assert not named, f"move these to the knowledge base's safety.toml: {sorted(set(named))}"


@pytest.mark.parametrize(
    ("question", "packaged_alone", "with_extra"),
    [
        ("my son swallowed my zbx", "ok", "crisis"),  # a var extended, and reached through the spelling added
        ("purple elephant", "ok", "crisis"),  # a phrase added to a packaged bank
        ("stampede now", "ok", "crisis"),  # a bank of its own
        ("not breathing in the leaflet", "crisis", "ok"),  # an educational framing of its own
        ("what about my glimmer plan", "ok", "advice"),  # an advice act of its own, with the packaged anchor "my"
    ],
)
def test_a_knowledge_base_adds_to_the_packaged_rules(
    extra: Path, packaged: SafetyGate, question: str, packaged_alone: str, with_extra: str
) -> None:
    assert packaged.classify(question).kind == packaged_alone
    assert SafetyGate.from_file(extra).classify(question).kind == with_extra


def test_added_banks_and_phrases_say_their_emergency(extra: Path) -> None:
    gate = SafetyGate.from_file(extra)
    verdict = gate.classify("Purple   elephant!")
    assert verdict == Verdict("crisis", "crisis.ideation: purple elephant", emergency="suicide")
    assert gate.classify("stampede now").emergency == "medical"


def test_the_packaged_rules_still_hold_with_additions(extra: Path) -> None:
    gate = SafetyGate.from_file(extra)
    assert gate.classify("kms").kind == "crisis"
    assert gate.classify("should i stop my insulin").kind == "advice"
    assert gate.classify("what is insulin").kind == "ok"


def test_merging_changes_neither_file(extra: Path) -> None:
    before, _ = load_rules()
    merged, origin = load_rules(extra)
    after, _ = load_rules()
    assert before == after and merged != before
    assert merged["vars"]["meds"].endswith("|zorblax") and "purple elephant" in merged["crisis"]["ideation"]["phrases"]
    assert str(extra) in origin and "kbot/data/safety.toml" in origin


def test_the_ketamine_knowledge_base_has_its_additions() -> None:
    assert rules_in(ROOT / "seeds") == KB_RULES
    gate, packaged = SafetyGate.from_file(KB_RULES), SafetyGate.from_file()
    for question, kind in [("can i get spravato every week", "advice"), ("is ket an opiod", "ok")]:
        assert gate.classify(question).kind == kind
    assert packaged.classify("can i get spravato every week").kind == "ok"  # spravato is the KB's word, not kbot's
    assert gate.normalise("is ket an opiod") == "is ketamine an opioid"
    assert packaged.normalise("is ket an opiod") == "is ket an opiod"


def test_a_folder_without_additions_has_none(tmp_path: Path) -> None:
    assert rules_in(tmp_path) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[oops", "is not valid TOML"),
        ("[thresholds]\nx = 1", "unknown table [thresholds]"),
        ("[crisis.ideation]\nwords = ['x']", "unknown key 'words'"),
        ("[crisis.ideation]\nemergency = 'overdose'", "cannot be changed"),
        ("[crisis.ideation_general]\nunless_educational = false", "cannot be changed"),
        ("[crisis.mine]\nemergency = 'fire'\nphrases = ['x y']", "emergency = 'fire' is not one of"),
        ("[crisis.mine]\nphrases = []", "has no phrases or patterns"),
        ("[advice.other]\nphrases = ['x']", "unknown table [advice.other]"),
        ("[normalise.words]\nkms = 'kilometres'", "a knowledge base can add words, not change them"),
        ("[normalise]\nmid = []", "unknown entry [normalise] mid"),
        ("[vars]\nmeds = '(unclosed'", "does not compile"),
        ("[crisis.ideation]\npatterns = ['{nobody} is here']", "{nobody} is not defined"),
        ("vars = 3", "[vars] must be a table"),
        ("[educational]\npatterns = ['(?:']", "does not compile"),
    ],
)
def test_a_bad_addition_says_what_is_wrong_and_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "safety.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KbotError) as err:
        SafetyGate.from_file(path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert err.value.fix


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(KbotError, match="Cannot read the safety rules"):
        SafetyGate.from_file(tmp_path / "nope.toml")

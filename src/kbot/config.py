"""All of kbot's settings in one place. Every field can be set from the environment with the ``KBOT_`` prefix
(lists as JSON, e.g. ``KBOT_CORS_ORIGINS='["https://clinic.example"]'``) or from a ``.env`` file.

Never instantiated at import: callers build ``Settings()`` when they start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from kbot.domain import Emergency
from kbot.errors import InvalidSettings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _default_dir(name: str) -> Path:
    """The project's own folder when run from a checkout; else the current directory's."""
    here = PROJECT_ROOT / name
    return here if here.is_dir() else Path.cwd() / name


class HelpLine(BaseModel):
    name: str
    action: str
    phone: str = ""
    sms: str = ""
    # The emergencies this line is for: a crisis reply shows the lines for its emergency first, all of them always.
    topics: list[Emergency] = Field(default_factory=list)


US_HELP_LINES = [
    HelpLine(
        name="988 Suicide & Crisis Lifeline",
        action="Call or text 988, any time, day or night",
        phone="988",
        sms="988",
        topics=["suicide", "self_harm", "lethality"],
    ),
    HelpLine(
        name="Emergency services",
        action="Call 911 for an emergency, or if someone is not breathing or will not wake up",
        phone="911",
        topics=["breathing", "unresponsive", "medical", "overdose", "poisoning"],
    ),
    HelpLine(
        name="Poison Control",
        action="Call Poison Control at 1-800-222-1222",
        phone="1-800-222-1222",
        topics=["poisoning", "overdose"],
    ),
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KBOT_", env_file=".env", extra="ignore")

    # Where things are
    seeds_dir: Path = Field(
        default_factory=lambda: _default_dir("seeds"), description="Folder of the knowledge base named default"
    )
    knowledge_bases: dict[str, Path] = Field(
        default_factory=dict, description="More knowledge bases: name -> folder (JSON object)"
    )
    index_dir: Path = Field(
        default_factory=lambda: _default_dir("index"), description="Folder of the indexes, one per knowledge base"
    )
    web_dir: Path = Field(
        default_factory=lambda: _default_dir("web"), description="Folder of templates and widget files"
    )

    # Model and retrieval
    model_name: str = Field("all-MiniLM-L6-v2", description="Embedding model (the packaged all-MiniLM-L6-v2)")
    passage_sentences: int = Field(3, description="Sentences per passage")
    top_passages: int = Field(8, description="Passages retrieved per question")
    max_quotes: int = Field(3, description="Quotes per answer at most")
    reader: bool = Field(True, description="Reorder the best candidates with the reader (off: retrieval's order)")
    reader_dir: Path | None = Field(None, description="Folder of the reader's weights (default: the packaged one)")
    reader_int8: bool = Field(
        True,
        description="Score with the reader's layers quantised to int8 at load (a scale per output channel; each "
        "question's pairs in passes of their own, so its answer never depends on the questions read beside it): "
        "a fifth less of its time than bfloat16, for 0.4 points of support@1 on NIH dev over the full library "
        "(0.721 against 0.725); false: bfloat16 or float32 (KBOT_BF16)",
    )
    bf16: bool | None = Field(
        None,
        description="Run the models' matrix products in bfloat16 (about 1.8x faster where the CPU multiplies it "
        "natively; vectors within cosine 0.9999 of float32); unset: when the CPU has AVX512-BF16 or AMX",
    )

    # Abstention: unset means the thresholds `kbot calibrate` wrote to seeds/abstention.toml
    min_dense_score: float | None = Field(None, description="Override: lowest cosine of the best sentence to answer")
    min_coverage: float | None = Field(
        None, description="Override: lowest share of the question's word weight in the first sentence, to answer on it"
    )
    min_coverage_dense: float | None = Field(
        None, description="Override: lowest cosine of the best sentence when answering on coverage"
    )

    # Safety
    help_lines: list[HelpLine] = Field(
        default_factory=lambda: list(US_HELP_LINES), min_length=1, description="Crisis help lines, shown first"
    )
    notice: str = Field(
        "kbot only quotes published articles and is not medical advice. "
        "Please consult a clinician about your own health and treatment.",
        description="Clinician notice that ends every reply",
    )

    # HTTP API
    max_question_chars: int = Field(1000, description="Longest question accepted")
    max_body_bytes: int = Field(8192, description="Largest request body accepted")
    max_header_bytes: int = Field(16384, ge=1024, description="Largest request line and headers accepted (431)")
    read_timeout_s: float = Field(10.0, gt=0, description="Seconds for a request's headers, then its body, to arrive")
    idle_timeout_s: int = Field(5, ge=1, description="Seconds a connection may stay open without a request")
    max_connections: int = Field(1000, ge=1, description="Open connections per worker; beyond it requests get 503")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed to call the API from a browser")
    frame_ancestors: list[str] = Field(default_factory=list, description="Sites allowed to frame the chat panel")
    api_keys: list[str] = Field(
        default_factory=list, description="Accepted X-API-Key values; empty means no key needed"
    )
    api_keys_file: Path | None = Field(None, description="File with one API key per line (adds to api_keys)")
    api_key_scopes: dict[str, list[str]] = Field(
        default_factory=dict, description="Keys limited to some knowledge bases: key -> names (JSON); adds the keys"
    )
    rate_limit_per_minute: int = Field(60, description="Requests per minute per key or client address (0 = off)")
    trust_forwarded_for: bool = Field(
        False, description="Take the client address from X-Forwarded-For (behind a proxy)"
    )
    redis_url: str | None = Field(
        None,
        pattern=r"^rediss?://[^\s]+$",
        description="Redis for rate limits and the answer cache shared by every worker and replica (redis://...)",
    )
    log_questions: bool = Field(False, description="Log question text (health information: see README)")
    cache_size: int = Field(1024, description="Answers to repeated questions kept in memory")
    batch_wait_ms: float = Field(2.0, description="How long a question waits for others to share one model call")
    batch_max: int = Field(32, description="Most questions encoded in one model call")
    batch_lanes: int = Field(
        0, ge=0, description="Batches a worker answers at once, each on its share of the cores (0: one per core)"
    )
    reload_interval: float = Field(
        2.0, gt=0, description="Seconds between checks for a rebuilt index, served without a restart"
    )

    # What is stored (answers' outcomes and patients' feedback; see Privacy in the README)
    var_dir: Path = Field(
        default_factory=lambda: _default_dir("var"), description="Folder of the SQLite database (when no URL is set)"
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL of the database (postgresql://...); empty: SQLite in var_dir/kbot.db"
    )
    store_questions: bool = Field(
        False, description="Keep the scrubbed text of unanswered and thumbs-down questions (see Privacy)"
    )
    question_retention_days: int = Field(
        30, ge=1, description="Days a stored question or feedback comment is kept, then deleted by kbot"
    )
    feedback_window_hours: int = Field(24, ge=1, description="Hours after an answer during which it can be voted on")
    admin_key: str = Field("", description="Key for /admin/report (X-Admin-Key header); empty: the page is off")


def load_settings(**overrides: Any) -> Settings:
    """``Settings(**overrides)``, with a bad ``KBOT_*`` value reported as ``InvalidSettings`` (never a traceback)."""
    try:
        return Settings(**overrides)
    except SettingsError as exc:  # a list or help lines that are not JSON
        field = str(exc).split('"')[1] if '"' in str(exc) else "?"
        problems = f"KBOT_{field.upper()}: not valid JSON (lists and help lines are written as JSON)"
    except ValidationError as exc:
        problems = "; ".join(f"KBOT_{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors() if e["loc"])
    raise InvalidSettings(f"A setting is not valid: {problems}. Correct it (see Configuration in the README).")

"""The HTTP API's request and response shapes, with the examples shown in /docs.

The answer shapes mirror ``domain.Answer.to_dict()`` field for field: that dict is the contract shared by the CLI, the
API, the widget and the evaluation, and tests check that every answer the service gives validates against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, create_model, field_validator

from kbot.knowledge_base import NAME_PATTERN
from kbot.store import MAX_COMMENT_CHARS, Reason
from kbot.text_fragment import article_link

NOTICE_EXAMPLE = (
    "kbot only quotes published articles and is not medical advice. "
    "Please consult a clinician about your own health and treatment."
)
QUESTION_EXAMPLE = "What are the side effects?"
KB_NAME_PATTERN = NAME_PATTERN
# "Not only whitespace" as a pattern every regex engine reads alike: one character that str.strip() keeps. A bare \S
# differs between engines (U+0085 and U+001C-U+001F are whitespace to Python, not to ECMAScript or to the generator
# schemathesis uses), so a schema-valid "\u0085" was refused with 422.
NOT_BLANK_PATTERN = r"[^\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


class AskRequestBase(BaseModel):
    """A patient's question. Sent only in a POST body, never in a URL (access logs record URLs)."""

    model_config = ConfigDict(
        extra="forbid",
        regex_engine="python-re",  # the same character classes as Python's str.strip() below
        json_schema_extra={"examples": [{"question": QUESTION_EXAMPLE}]},
    )

    question: StrictStr
    kb: StrictStr = Field(
        "default",
        pattern=KB_NAME_PATTERN,
        description="The knowledge base to answer from (GET /v1/kbs lists them); `default` when left out",
    )

    @field_validator("question", mode="before")
    @classmethod
    def _not_blank(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("the question is empty or only whitespace; send the patient's question as text")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("the question is not valid Unicode text (it holds a lone surrogate)") from None
        return value

    @field_validator("question")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


def ask_request_model(max_chars: int) -> type[AskRequestBase]:
    """The request model with the configured length cap, so /openapi.json states the real limit."""
    question_field: Any = (
        StrictStr,
        Field(
            min_length=1,
            max_length=max_chars,
            pattern=NOT_BLANK_PATTERN,
            description=f"The question: 1 to {max_chars} characters, not only whitespace",
        ),
    )
    return create_model("AskRequest", __base__=AskRequestBase, question=question_field)


class QuoteOut(BaseModel):
    text: str = Field(description="Verbatim text of the source: source text[start:end]")
    source_id: str
    source_file: str
    start: int = Field(ge=0, description="Character offset of the quote in the source's text")
    end: int = Field(ge=0)
    score: float
    citation: int = Field(ge=1, description="The [n] marker of the source in `sources`")
    also_in: list[str] = Field(description="Other sources that say nearly the same thing")
    link: str = Field(
        description="The article's web page at the quote: its source's `url` with a text fragment "
        "(`#:~:text=start,end`) that scrolls to and highlights the quoted words; '' when the source has no URL"
    )


class SourceRefOut(BaseModel):
    citation: int = Field(ge=1)
    id: str
    title: str
    publisher: str
    url: str
    updated: str


class ResourceOut(BaseModel):
    name: str
    action: str
    phone: str
    sms: str


AnswerStatus = Literal["answered", "no_answer", "crisis", "declined"]


class GlossaryEntryOut(BaseModel):
    term: str = Field(description="A term a quote uses, as the knowledge base writes it")
    text: str = Field(
        description="The sentence that defines it elsewhere in the articles: its source's text[start:end]"
    )
    source_id: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class ContactOut(BaseModel):
    url: str = Field(description="The clinic's contact or booking page ('' when none)")
    phone: str = Field(description="The clinic's phone number ('' when none)")
    text: str = Field(description="The clinic's own words, e.g. its opening hours ('' when none)")


class AnswerOut(BaseModel):
    """The answer object: the same contract as `kbot ask --json`."""

    answer_id: str = Field(
        description="A random id for this answer (never derived from the question): send it to POST /v1/feedback"
    )
    status: AnswerStatus
    question: str
    message: str = Field(description="kbot's own short reply for no_answer, declined and crisis; '' when answered")
    quotes: list[QuoteOut]
    sources: list[SourceRefOut]
    suggestions: list[str] = Field(description="Questions kbot can answer, for no_answer and declined")
    resources: list[ResourceOut] = Field(
        description="Help lines: first in a crisis reply; beside an answer (or no-answer) about an emergency"
    )
    follow_ups: list[str] = Field(
        default_factory=list,
        description="For answered: two or three questions the articles answer, near the answer's topic, to ask next",
    )
    glossary: list[GlossaryEntryOut] = Field(
        default_factory=list,
        description="For answered: terms the quotes use that the articles define elsewhere, each with its definition",
    )
    contact: ContactOut | None = Field(
        None,
        description="For a question about the clinic itself (opening hours, appointments, prices, insurance, parking): "
        "the knowledge base's contact, which the message also gives; null otherwise",
    )
    notice: str = Field(description="The clinician notice that ends every reply")
    text: str = Field(description="Plain-text rendering: quotes with [n] markers, the sources, the notice last")


class SourceMetaOut(BaseModel):
    id: str
    file: str
    title: str
    publisher: str
    url: str
    updated: str
    kind: str = Field(description='"editorial" or "clinic_marketing"')


class SourceList(BaseModel):
    sources: list[SourceMetaOut]


class BlockOut(BaseModel):
    index: int
    kind: str = Field(description="title, heading, paragraph, list_item, faq_question or faq_answer")
    start: int = Field(ge=0, description="Character offset of the block in the source's text")
    end: int = Field(ge=0)
    text: str
    section: str = Field(description="The heading the block sits under ('' before the first heading)")


class SourceDetail(BaseModel):
    source: SourceMetaOut
    blocks: list[BlockOut] = Field(
        description="The blocks cleaning kept, in order: quotes come from them (a do_not_quote sentence is shown here,"
        " never quoted)"
    )


class FeedbackRequest(BaseModel):
    """A patient's vote on one answer. The comment must not hold personal health details (the form says so); it is
    scrubbed of phone numbers, e-mail addresses, dates and addresses before it is stored."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"answer_id": "Yb2k9Xq0pR7sT1uV3wZ5aA", "helpful": False, "reason": "out_of_date"}]
        },
    )

    answer_id: StrictStr = Field(min_length=1, max_length=64, description="The `answer_id` of the answer voted on")
    helpful: bool = Field(strict=True, description="true: thumbs up; false: thumbs down")
    reason: Reason | None = Field(None, description="Why it did not help; ignored with helpful: true")
    comment: StrictStr | None = Field(
        None, max_length=MAX_COMMENT_CHARS, description=f"Optional, at most {MAX_COMMENT_CHARS} characters"
    )


class FeedbackAccepted(BaseModel):
    status: Literal["accepted"]


class StoreState(BaseModel):
    status: Literal["ok", "unavailable"] = Field(description="`unavailable`: the database cannot be used")
    write_failures: int = Field(description="Writes that failed since this worker started (the log says why)")
    dropped: int = Field(description="Writes not attempted: the database was unavailable or the queue full")


class Health(BaseModel):
    status: Literal["ok"]


class KbState(BaseModel):
    status: Literal["ready", "unavailable"]
    sources: int = Field(description="Number of sources it serves (0 when unavailable)")
    build: str = Field(description="The index build it serves: the build's folder name, from when it was started")
    error: str | None = Field(None, description="When unavailable: the error code (index_missing, index_stale...)")


class RedisState(BaseModel):
    status: Literal["ok", "unavailable"] = Field(
        description="`unavailable`: this worker cannot reach Redis and limits and caches on its own meanwhile"
    )
    errors: int = Field(description="Calls to Redis that failed since this worker started")


class Ready(BaseModel):
    status: Literal["ready", "degraded"] = Field(description="`degraded`: some knowledge base cannot answer")
    sources: int = Field(description="Number of sources served, over every knowledge base")
    knowledge_bases: dict[str, KbState]
    store: StoreState | None = Field(None, description="The database of answers and feedback, for this worker")
    redis: RedisState | None = Field(None, description="Only when KBOT_REDIS_URL is set: this worker's view of Redis")


class KbOut(BaseModel):
    name: str
    title: str = Field(description="Its display title (kb.toml); empty when unavailable")
    sources: int
    status: Literal["ready", "unavailable"]
    build: str
    built_at: str = Field(description="When its index was built (ISO 8601, UTC); empty when unavailable")


class KbList(BaseModel):
    knowledge_bases: list[KbOut]


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable reason")
    message: str = Field(description="What went wrong and what to do instead")
    request_id: str = Field(description="Also in the X-Request-ID response header; quote it when reporting a problem")
    fix: str | None = Field(None, description="The command that resolves a server-side problem, when there is one")
    fields: dict[str, str] | None = Field(None, description="For 422: each rejected field and why (never its value)")


class ErrorResponse(BaseModel):
    error: ErrorDetail


_SOURCE = {
    "id": "side-effects",
    "file": "side-effects.md",
    "title": "Understanding side effects",
    "publisher": "Example Health",
    "url": "https://health.example/side-effects",
    "updated": "",
    "kind": "editorial",
}
_QUOTE = "Most side effects are mild and pass within a day."
ANSWER_EXAMPLE: dict[str, Any] = {
    "answer_id": "Yb2k9Xq0pR7sT1uV3wZ5aA",
    "status": "answered",
    "question": QUESTION_EXAMPLE,
    "message": "",
    "quotes": [
        {
            "text": _QUOTE,
            "source_id": _SOURCE["id"],
            "source_file": _SOURCE["file"],
            "start": 1234,
            "end": 1234 + len(_QUOTE),
            "score": 0.81,
            "citation": 1,
            "also_in": ["after-your-treatment"],
            "link": article_link(_SOURCE["url"], _QUOTE),
        }
    ],
    "sources": [{"citation": 1, **{k: _SOURCE[k] for k in ("id", "title", "publisher", "url", "updated")}}],
    "suggestions": [],
    "resources": [],
    "follow_ups": ["How long do side effects last?", "What should I tell my care team?"],
    "glossary": [],
    "contact": None,
    "notice": NOTICE_EXAMPLE,
    "text": f'"{_QUOTE}" [1]\n\nSources:\n[1] {_SOURCE["title"]} ({_SOURCE["publisher"]})\n\n{NOTICE_EXAMPLE}',
}
SOURCES_EXAMPLE = {"sources": [_SOURCE]}
SOURCE_DETAIL_EXAMPLE = {
    "source": _SOURCE,
    "blocks": [
        {"index": 0, "kind": "title", "start": 0, "end": 22, "text": _SOURCE["title"], "section": ""},
        {"index": 3, "kind": "paragraph", "start": 1234, "end": 1283, "text": _QUOTE, "section": "What to expect"},
    ],
}
_RID = "3f2b9c0e5a7d4e1f8a6b2c9d0e1f2a3b"


def error_example(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "request_id": _RID, **extra}}


def error_response(description: str, **examples: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI `responses` entry: the uniform error shape with one named example per situation."""
    return {
        "model": ErrorResponse,
        "description": description,
        "content": {"application/json": {"examples": {name: {"value": v} for name, v in examples.items()}}},
    }


def ok_response(description: str, example: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"example": example}}}


API_DESCRIPTION = """\
kbot answers patients' questions **only by quoting vetted articles verbatim**, with citations, and every reply ends
with a clinician notice. It never writes medical advice of its own; crisis messages get help lines first.

* Questions travel only in `POST /v1/ask` bodies, never in URLs, and are not logged by default.
* Errors share one shape, `{"error": {"code", "message", "request_id"}}`, and never echo what was sent.
* Every response carries `X-Request-ID`; quote it when reporting a problem.
* When the operator turns keys on, send `X-API-Key`. Over the rate limit: 429 with `Retry-After`.
"""
TAGS = [
    {"name": "ask", "description": "Questions and answers"},
    {"name": "feedback", "description": "Patients' votes on answers"},
    {"name": "sources", "description": "The knowledge bases and the articles kbot quotes, to show a quote in context"},
    {"name": "health", "description": "Liveness and readiness probes"},
]

_NOT_READY = error_example(
    "not_ready",
    "kbot is still loading its model and index; retry in a few seconds (GET /readyz says when it is ready)",
)
_INDEX_MISSING = error_example(
    "index_missing",
    "No knowledge base can answer yet: the index of 'default' has not been built.",
    fix="kbot ingest",
)
_SERVICE_UNAVAILABLE = error_response(
    "Not ready: still loading (with Retry-After), or the index cannot be used (the body says how to fix it)",
    loading=_NOT_READY,
    index_missing=_INDEX_MISSING,
    kb_unavailable=error_example(
        "kb_unavailable",
        "The knowledge base 'nih' cannot answer right now: its index has not been built. The other knowledge bases "
        "still answer.",
        fix="kbot ingest --kb nih",
    ),
)
_INTERNAL = error_response(
    "A fault in kbot (never caused by the input); the request id finds it in the server log",
    internal_error=error_example("internal_error", "kbot failed to handle this request; quote the request id"),
)

HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {200: ok_response("The process is alive", {"status": "ok"})}
READY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: ok_response(
        "The model is loaded and at least one knowledge base can answer (`degraded` when some cannot)",
        {
            "status": "degraded",
            "sources": 5,
            "knowledge_bases": {
                "default": {"status": "ready", "sources": 5, "build": "20261205T091500-k2j4x8ab", "error": None},
                "nih": {"status": "unavailable", "sources": 0, "build": "", "error": "index_missing"},
            },
        },
    ),
    503: _SERVICE_UNAVAILABLE,
}
V1_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: error_response(
        "API keys are on and X-API-Key is missing or unknown",
        missing_api_key=error_example("missing_api_key", "Send your clinic's API key in the X-API-Key header"),
        invalid_api_key=error_example(
            "invalid_api_key", "The X-API-Key header holds a key kbot does not know; check it with kbot's operator"
        ),
    ),
    403: error_response(
        "The API key may not use that knowledge base",
        kb_forbidden=error_example("kb_forbidden", "This API key may not use the knowledge base 'nih'"),
    ),
    404: error_response(
        "No knowledge base has that name",
        kb_not_found=error_example("kb_not_found", "There is no knowledge base named 'nih'; GET /v1/kbs lists them"),
    ),
    429: error_response(
        "Over the rate limit; the Retry-After header says how many seconds to wait",
        rate_limited=error_example(
            "rate_limited", "Too many requests: at most 60 a minute per client address. Retry after 1 s."
        ),
    ),
    422: error_response(
        "The request is malformed (the rejected value is never echoed)",
        invalid_request=error_example(
            "invalid_request", "x-api-key: must be a string", fields={"x-api-key": "must be a string"}
        ),
    ),
    500: _INTERNAL,
    503: _SERVICE_UNAVAILABLE,
}
ASK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: ok_response("The answer object (the same as `kbot ask --json`)", ANSWER_EXAMPLE),
    413: error_response(
        "The body is over the size cap",
        body_too_large=error_example(
            "body_too_large",
            "The request body is over 8192 bytes; a question is at most a few thousand characters",
        ),
    ),
    422: error_response(
        "The question is missing, empty, too long or not a string, a field is unknown or named twice, or the body is"
        " not JSON (never echoed back)",
        empty=error_example(
            "invalid_question",
            "question: the question is empty or only whitespace; send the patient's question as text",
            fields={"question": "the question is empty or only whitespace; send the patient's question as text"},
        ),
        too_long=error_example(
            "invalid_question",
            "question: must be at most 1000 characters",
            fields={"question": "must be at most 1000 characters"},
        ),
        field_twice=error_example(
            "invalid_request",
            "body: names the same field more than once: send each field once",
            fields={"body": "names the same field more than once: send each field once"},
        ),
        not_json=error_example(
            "invalid_json",
            'The body is not valid JSON: send a JSON object like {"question": "What are the side effects?"} '
            "with Content-Type: application/json",
        ),
    ),
}
FEEDBACK_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: ok_response("The vote is stored", {"status": "accepted"}),
    404: error_response(
        "No answer has that id, or it is too old to vote on",
        unknown_answer=error_example(
            "unknown_answer",
            "This answer id is unknown or too old to vote on; vote on an answer within a day of asking",
        ),
    ),
    409: error_response(
        "The answer was voted on already",
        already_voted=error_example("already_voted", "This answer has been voted on already; one vote per answer"),
    ),
    422: error_response(
        "A field is missing or malformed, or the comment is too long (never echoed back)",
        bad_reason=error_example(
            "invalid_request",
            "reason: must be one of did_not_answer, wrong_or_misleading, hard_to_understand, out_of_date, other",
            fields={
                "reason": "must be one of did_not_answer, wrong_or_misleading, hard_to_understand, out_of_date, other"
            },
        ),
    ),
    503: error_response(
        "The database cannot be used right now",
        store_unavailable=error_example(
            "store_unavailable", "Feedback cannot be saved right now; please try again later"
        ),
    ),
}
SOURCES_RESPONSES: dict[int | str, dict[str, Any]] = {200: ok_response("The sources kbot quotes", SOURCES_EXAMPLE)}
KBS_EXAMPLE = {
    "knowledge_bases": [
        {
            "name": "default",
            "title": "Ask about our treatments",
            "sources": 5,
            "status": "ready",
            "build": "20261205T091500-k2j4x8ab",
            "built_at": "2026-12-05T09:15:16+00:00",
        }
    ]
}
KBS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: ok_response("The knowledge bases this key may use, and the build each one serves", KBS_EXAMPLE)
}
SOURCE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: ok_response("The source's metadata and its cleaned blocks with offsets", SOURCE_DETAIL_EXAMPLE),
    404: error_response(
        "No source has that id",
        source_not_found=error_example("source_not_found", "No source has that id; GET /v1/sources lists them"),
    ),
}

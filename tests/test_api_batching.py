"""Micro-batching, shared in-flight work and the LRU answer cache, with a recording stand-in for ask_batch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import pytest

from kbot.api.batching import CachedAsker, LRUCache, MicroBatcher, normalise
from kbot.domain import Answer, Status

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 10))


def answer(question: str) -> Answer:
    return Answer(Status.ANSWERED, question, (), (), "notice", f"about {question}")


class Recorder:
    """ask_batch that records each call, can be held until released, and fails on the question "bad"."""

    def __init__(self, hold: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.kbs: list[list[str]] = []
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, questions: Sequence[str], kbs: Sequence[str]) -> list[Answer]:
        self.release.wait(5)
        self.calls.append(list(questions))
        self.kbs.append(list(kbs))
        if "bad" in questions:
            raise ValueError("bad question")
        return [answer(q) for q in questions]


# --- LRU cache and keys ----------------------------------------------------------------------------------------------


def test_lru_cache_evicts_the_least_recently_used() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), len(cache)) == (1, 3, 2)


def test_a_zero_size_cache_keeps_nothing() -> None:
    cache: LRUCache[str, int] = LRUCache(0)
    cache.put("a", 1)
    assert cache.get("a") is None and len(cache) == 0


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Is ketamine an opioid?", "is KETAMINE an opioid?", True),
        ("Is ketamine  an\topioid?", "Is ketamine an opioid?", True),
        ("Is ketamine an opioid?", "Is ketamine an opioid", False),
        ("Is ketamine an opioid?", "Is morphine an opioid?", False),
    ],
)
def test_normalise(a: str, b: str, same: bool) -> None:
    assert (normalise(a) == normalise(b)) is same


# --- micro-batching --------------------------------------------------------------------------------------------------


async def _ask_all(batcher: MicroBatcher, questions: Sequence[str]) -> list[Answer | BaseException]:
    batcher.start()
    try:
        return await asyncio.gather(*(batcher.submit(q, "default") for q in questions), return_exceptions=True)
    finally:
        await batcher.stop()


def test_concurrent_questions_share_model_calls_and_each_gets_its_own_answer() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_batch=32, wait_ms=5)
    questions = [f"question {i}" for i in range(20)]
    answers = run(_ask_all(batcher, questions))
    assert [a.question for a in answers] == questions  # type: ignore[union-attr]
    assert len(recorder.calls) < len(questions)
    assert sorted(q for call in recorder.calls for q in call) == sorted(questions)


def test_a_batch_never_exceeds_batch_max() -> None:
    recorder = Recorder(hold=True)

    async def scenario() -> list[Answer | BaseException]:
        batcher = MicroBatcher(recorder, max_batch=4, wait_ms=50)
        batcher.start()
        futures = [batcher.submit(f"q{i}", "default") for i in range(10)]
        await asyncio.sleep(0.05)
        recorder.release.set()
        try:
            return await asyncio.gather(*futures)
        finally:
            await batcher.stop()

    run(scenario())
    assert max(len(c) for c in recorder.calls) == 4
    assert sum(len(c) for c in recorder.calls) == 10


def test_lanes_answer_batches_at_once_each_with_its_share_of_the_cores() -> None:
    both = threading.Barrier(2, timeout=5)  # passes only when two batches are being answered at the same time
    threads: list[tuple[str, int]] = []

    def ask_batch(questions: Sequence[str], kbs: Sequence[str]) -> list[Answer]:
        if len(questions) > 1:
            both.wait()
        return [answer(q) for q in questions]

    def share(busy: int) -> None:
        threads.append((threading.current_thread().name, busy))

    async def scenario() -> None:
        batcher = MicroBatcher(ask_batch, max_batch=32, wait_ms=0, lanes=2, threads=share)
        batcher.start()
        try:
            lone = await batcher.submit("alone", "default")
            together = await asyncio.gather(*(batcher.submit(f"q{i}", "default") for i in range(8)))
            again = await batcher.submit("alone again", "default")
        finally:
            await batcher.stop()
        assert lone.question == "alone" and again.question == "alone again"
        assert [a.question for a in together] == [f"q{i}" for i in range(8)]

    run(scenario())
    lone, *pair, again = threads
    assert lone == ("kbot-model-0_0", 1) and again == lone  # a lone question: the first lane, every core
    assert sorted(pair) == [("kbot-model-0_0", 2), ("kbot-model-1_0", 2)]  # 8 questions: 4 in each lane, half each


def test_questions_held_when_the_batcher_stops_get_the_shutdown_error() -> None:
    release = threading.Event()

    def ask_batch(questions: Sequence[str], kbs: Sequence[str]) -> list[Answer]:
        release.wait(5)  # the only lane stays busy
        return [answer(q) for q in questions]

    async def scenario() -> None:
        batcher = MicroBatcher(ask_batch, max_batch=32, wait_ms=0, lanes=1)
        batcher.start()
        first = batcher.submit("first", "default")
        await asyncio.sleep(0.05)  # taken by the lane
        waiting = batcher.submit("waiting", "default")
        await asyncio.sleep(0.05)  # taken off the queue, waiting for a lane
        try:
            await batcher.stop()
        finally:
            release.set()
        for held in (first, waiting):  # the batch under way, and the question that waited for a lane
            with pytest.raises(RuntimeError, match="shutting down"):
                await asyncio.wait_for(held, 1)

    run(scenario())


def test_share_cores_gives_each_busy_lane_its_share() -> None:
    torch = pytest.importorskip("torch")
    from kbot.api.batching import share_cores

    before = torch.get_num_threads()
    seen = []

    def lane(busy: int) -> None:  # torch's thread count is the calling thread's own
        share_cores(4)(busy)
        seen.append(torch.get_num_threads())

    try:
        for busy in (1, 2, 3, 8):
            worker = threading.Thread(target=lane, args=(busy,))
            worker.start()
            worker.join()
    finally:
        torch.set_num_threads(before)
    assert seen == [4, 2, 1, 1]


def test_a_lone_question_is_not_held_for_the_batch_window() -> None:
    batcher = MicroBatcher(Recorder(), max_batch=32, wait_ms=60_000)  # a window far longer than run()'s timeout
    assert run(_ask_all(batcher, ["alone"]))[0].question == "alone"  # type: ignore[union-attr]


def test_one_failing_question_does_not_fail_the_others() -> None:
    recorder = Recorder(hold=True)

    async def scenario() -> list[Answer | BaseException]:
        batcher = MicroBatcher(recorder, max_batch=8, wait_ms=5)
        batcher.start()
        futures = [batcher.submit(q, "default") for q in ("first", "good", "bad", "fine")]
        recorder.release.set()
        try:
            return await asyncio.gather(*futures, return_exceptions=True)
        finally:
            await batcher.stop()

    outcomes = run(scenario())
    assert [getattr(o, "question", None) for o in outcomes] == ["first", "good", None, "fine"]
    assert isinstance(outcomes[2], ValueError)


def test_a_wrong_number_of_answers_is_an_error_not_a_mixup() -> None:
    batcher = MicroBatcher(lambda qs, kbs: [answer("x")] * (len(qs) + 1), max_batch=8, wait_ms=0)
    outcome = run(_ask_all(batcher, ["a"]))[0]
    assert isinstance(outcome, RuntimeError)


def test_submit_before_start_is_an_error() -> None:
    async def scenario() -> None:
        MicroBatcher(Recorder(), max_batch=8, wait_ms=0).submit("q", "default")

    with pytest.raises(RuntimeError, match="start"):
        run(scenario())


# --- cache and shared in-flight work ---------------------------------------------------------------------------------


def test_identical_concurrent_questions_are_answered_once_then_cached() -> None:
    recorder = Recorder(hold=True)

    async def scenario() -> tuple[list[tuple[Answer, bool]], tuple[Answer, bool]]:
        batcher = MicroBatcher(recorder, max_batch=32, wait_ms=5)
        batcher.start()
        asker = CachedAsker(batcher, cache_size=16)
        tasks = [asyncio.create_task(asker.ask(q, "default")) for q in ("Is it safe?", "is it  SAFE?", "Is it safe?")]
        await asyncio.sleep(0.02)
        recorder.release.set()
        try:
            together = await asyncio.gather(*tasks)
            return together, await asker.ask("IS IT SAFE?", "default")
        finally:
            await batcher.stop()

    together, later = run(scenario())
    assert sum(len(c) for c in recorder.calls) == 1
    assert [a.question for a, _ in together] == ["Is it safe?", "is it  SAFE?", "Is it safe?"]
    assert later[0].question == "IS IT SAFE?" and later[1] is True
    assert later[0].text == together[0][0].text


def test_failures_are_not_cached() -> None:
    recorder = Recorder()

    async def scenario() -> int:
        batcher = MicroBatcher(recorder, max_batch=8, wait_ms=0)
        batcher.start()
        asker = CachedAsker(batcher, cache_size=16)
        try:
            for _ in range(2):
                with pytest.raises(ValueError):
                    await asker.ask("bad", "default")
            return len(asker.cache)
        finally:
            await batcher.stop()

    assert run(scenario()) == 0
    assert len(recorder.calls) == 2


def test_the_cache_keeps_each_knowledge_base_apart_and_forgets_on_a_new_build() -> None:
    recorder = Recorder()

    async def scenario() -> list[bool]:
        batcher = MicroBatcher(recorder, max_batch=8, wait_ms=0)
        batcher.start()
        asker = CachedAsker(batcher, cache_size=16)
        try:
            hits = [(await asker.ask("Is it safe?", kb))[1] for kb in ("default", "nih", "nih")]
            asker.forget()  # a knowledge base now serves a new build
            return [*hits, (await asker.ask("Is it safe?", "nih"))[1]]
        finally:
            await batcher.stop()

    assert run(scenario()) == [False, False, True, False]
    assert recorder.kbs == [["default"], ["nih"], ["nih"]]


def test_an_answer_begun_before_forget_is_not_cached_after_it() -> None:
    recorder = Recorder(hold=True)

    async def scenario() -> int:
        batcher = MicroBatcher(recorder, max_batch=8, wait_ms=0)
        batcher.start()
        asker = CachedAsker(batcher, cache_size=16)
        try:
            pending = asyncio.create_task(asker.ask("Is it safe?", "default"))
            await asyncio.sleep(0.02)
            asker.forget()  # the new build arrived while the old one was answering
            recorder.release.set()
            await pending
            return len(asker.cache)
        finally:
            await batcher.stop()

    assert run(scenario()) == 0

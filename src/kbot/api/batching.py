"""Answering many concurrent questions fast: an LRU cache of answers, shared in-flight work, and micro-batches.

Encoding one question costs about as much as encoding several together, so questions that arrive together are
collected into one ``ask_batch`` call, run in a worker thread (the model releases the GIL, so the event loop keeps
serving). Under load, ``lanes`` batches run at once, each on its share of the cores: the models' small matrix
products keep one core busy far better than two, and a batch's retrieval and quoting run on one core anyway. A caller
who repeats a question is answered from a bounded LRU cache, and a question they are already waiting for is not
encoded twice; neither is shared between callers (see ``CachedAsker``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Generic, TypeVar

from kbot.domain import Answer

if TYPE_CHECKING:
    from kbot.api.shared import SharedAnswerCache

K = TypeVar("K")
V = TypeVar("V")
AskBatch = Callable[[Sequence[str], Sequence[str]], list[Answer]]  # questions, and the knowledge base of each


def normalise(question: str) -> str:
    """The cache key: case and runs of whitespace do not change an answer (the model is uncased)."""
    return " ".join(question.split()).lower()


class LRUCache(Generic[K, V]):
    """At most ``maxsize`` entries; the least recently used goes first. ``maxsize`` 0 keeps nothing."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if self.maxsize <= 0:
            return
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()


_Item = tuple[str, str, "asyncio.Future[Answer]"]  # the question, its knowledge base, where its answer goes


class MicroBatcher:
    """Collects questions from concurrent requests and answers them with one ``ask_batch`` call per batch.

    A batch is whatever is queued when a lane is free, topped up for at most ``wait_ms`` while other requests are
    arriving too (a lone question at low load is never held back), and never more than ``max_batch`` questions, nor
    more than its share of the queue when other lanes are free too. ``threads(busy)`` is called in a lane's thread
    before each batch with the number of lanes then busy (this one included), to give it its share of the cores.
    """

    def __init__(
        self,
        ask_batch: AskBatch,
        *,
        max_batch: int,
        wait_ms: float,
        lanes: int = 1,
        threads: Callable[[int], None] | None = None,
    ) -> None:
        self._ask_batch = ask_batch
        self._max = max(1, max_batch)
        self._wait = max(0.0, wait_ms) / 1000.0
        self._lanes = max(1, lanes)
        self._threads = threads
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        # A thread per lane, and the first free lane first: a lone question always runs in the same thread (thread
        # pools of the model's own are kept per calling thread).
        self._executors = [ThreadPoolExecutor(1, thread_name_prefix=f"kbot-model-{i}") for i in range(self._lanes)]
        self._task: asyncio.Task[None] | None = None
        self._idle: asyncio.PriorityQueue[int] | None = None  # the lanes free to take a batch
        self._running: dict[asyncio.Task[None], list[_Item]] = {}  # the batches under way: as many lanes are busy
        self._last_size = 1
        self.batches = 0  # counters, for tests and the benchmark
        self.questions = 0

    def start(self) -> None:
        if self._task is None:
            self._idle = asyncio.PriorityQueue()
            for lane in range(self._lanes):
                self._idle.put_nowait(lane)
            self._task = asyncio.get_running_loop().create_task(self._run(), name="kbot-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            held = [item for batch in self._running.values() for item in batch]
            self._task.cancel()
            for task in list(self._running):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(self._task, *self._running, return_exceptions=True)
            self._task = None
            _shut(held)
        _shut([self._queue.get_nowait() for _ in range(self._queue.qsize())])
        for executor in self._executors:
            executor.shutdown(wait=False)

    def submit(self, question: str, kb: str) -> asyncio.Future[Answer]:
        if self._task is None:
            raise RuntimeError("MicroBatcher.start() must be called first")
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((question, kb, future))
        return future

    async def _run(self) -> None:
        assert self._idle is not None
        while True:
            batch = [await self._queue.get()]
            try:
                # A lane once a question is there, not before: the lowest free one, so a lone question at low load
                # runs in the first lane whichever lane finished last.
                lane = await self._idle.get()
                free = self._lanes - len(self._running)  # this lane included
                most = min(self._max, -(-(len(batch) + self._queue.qsize()) // free))  # the others' share waits
                self._drain(batch, most)
                if self._wait and len(batch) < most and (len(batch) > 1 or self._last_size > 1):
                    await self._top_up(batch, most)
            except asyncio.CancelledError:  # stopped while holding these: they get stop()'s answer too
                _shut(batch)
                raise
            self._last_size = len(batch)
            task = asyncio.get_running_loop().create_task(self._lane(lane, batch))
            self._running[task] = batch

    async def _lane(self, lane: int, batch: list[_Item]) -> None:
        assert self._idle is not None
        try:
            await self._answer(batch, lane)
        finally:
            self._idle.put_nowait(lane)
            self._running.pop(asyncio.current_task(), None)  # type: ignore[arg-type]

    def _drain(self, batch: list[_Item], most: int) -> None:
        while len(batch) < most and not self._queue.empty():
            batch.append(self._queue.get_nowait())

    async def _top_up(self, batch: list[_Item], most: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        while len(batch) < most and (left := deadline - loop.time()) > 0:
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), left))
            except TimeoutError:
                return
            self._drain(batch, most)

    async def _answer(self, batch: list[_Item], lane: int = 0) -> None:
        live = [item for item in batch if not item[2].done()]  # a cancelled request needs no answer
        if not live:
            return
        loop = asyncio.get_running_loop()
        questions, kbs = [q for q, _, _ in live], [kb for _, kb, _ in live]
        self.batches += 1
        self.questions += len(questions)
        try:
            answers = await loop.run_in_executor(
                self._executors[lane], self._checked, questions, kbs, len(self._running)
            )
        except Exception as exc:
            if len(live) == 1:
                _settle(live[0][2], exc)
                return
            for item in live:  # one bad question must not fail the others: answer them one by one
                await self._answer([item], lane)
            return
        for (*_, future), answer in zip(live, answers, strict=True):
            _settle(future, answer)

    def _checked(self, questions: list[str], kbs: list[str], busy: int) -> list[Answer]:
        if self._threads is not None:
            self._threads(busy)
        answers = self._ask_batch(questions, kbs)
        if len(answers) != len(questions):
            raise RuntimeError(f"ask_batch returned {len(answers)} answers for {len(questions)} questions")
        return answers


def worker_cores() -> int:
    """The cores this worker's models may use: its share (OMP_NUM_THREADS, which ``kbot serve --workers`` sets), else
    every core it may run on."""
    share = os.environ.get("OMP_NUM_THREADS", "")
    if share.isdigit() and int(share) > 0:
        return int(share)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def share_cores(cores: int) -> Callable[[int], None]:
    """What MicroBatcher calls in a lane's thread before each batch: ``cores`` shared by the lanes then busy. (Torch's
    thread count is the calling thread's own for its parallel regions.)"""

    def share(busy: int) -> None:
        torch = sys.modules.get("torch")
        threads = max(1, cores // max(1, busy))
        if torch is not None and torch.get_num_threads() != threads:  # (no models: no threads to share)
            torch.set_num_threads(threads)

    return share


def _shut(items: Sequence[_Item]) -> None:
    """The answer of questions the batcher stopped before answering."""
    for *_, future in items:
        _settle(future, RuntimeError("kbot is shutting down"))


def _settle(future: asyncio.Future[Answer], outcome: Answer | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


_Key = tuple[str, str, str, str]  # (caller, knowledge base, its build, normalised question)


class CachedAsker:
    """What the /v1/ask route calls: the LRU cache first, then the cache shared through Redis (when there is one),
    then a question already being answered, then a batch.

    All are kept per caller: a cached answer comes back in a fraction of a millisecond instead of tens, so a cache
    shared by every caller would tell anyone who times a question whether somebody else asked it lately."""

    def __init__(self, batcher: MicroBatcher, cache_size: int, shared: SharedAnswerCache | None = None) -> None:
        self.batcher = batcher
        self.cache: LRUCache[_Key, Answer] = LRUCache(cache_size)
        self.shared = shared
        self._inflight: dict[_Key, asyncio.Future[Answer]] = {}
        self._generation = 0  # bumped by forget(): an answer begun before it is not cached after it

    async def ask(self, question: str, kb: str, caller: str = "", build: str = "") -> tuple[Answer, bool]:
        """The answer from knowledge base ``kb`` (serving ``build``), and whether it came from ``caller``'s own
        earlier questions. The shared cache is keyed by ``build``: a new build never serves an old build's answer."""
        key = (caller, kb, build, normalise(question))
        cached = self.cache.get(key)
        if cached is not None:
            return _as_asked(cached, question), True
        shared = self.shared if build else None
        shared_key = shared.key(caller, kb, build, key[3]) if shared is not None else ""
        if shared is not None and (hit := await shared.get(shared_key)) is not None:
            self.cache.put(key, hit)
            return _as_asked(hit, question), True
        future = self._inflight.get(key)
        generation = self._generation
        owner = future is None
        if future is None:
            future = self.batcher.submit(question, kb)
            self._inflight[key] = future
            future.add_done_callback(lambda f: self._done(key, f, generation))
        # shield: a client that hangs up must not cancel the answer other requests are waiting for
        answer = await asyncio.shield(future)
        if owner and shared is not None and generation == self._generation:
            await shared.put(shared_key, answer)
        return _as_asked(answer, question), False

    def forget(self) -> None:
        """Drop every cached answer: a knowledge base now serves a new build, whose answers may differ."""
        self._generation += 1
        self._inflight.clear()
        self.cache.clear()

    def _done(self, key: _Key, future: asyncio.Future[Answer], generation: int) -> None:
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if generation == self._generation and not future.cancelled() and future.exception() is None:
            self.cache.put(key, future.result())


def _as_asked(answer: Answer, question: str) -> Answer:
    """A shared answer carries the caller's own wording of the question."""
    return answer if answer.question == question else dataclasses.replace(answer, question=question)

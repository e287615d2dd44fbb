"""The knowledge bases one process serves, by name.

Each is loaded on its own, so a broken one (no index yet, a damaged or stale index, a bad kb.toml) never stops the
others: it answers its error instead. ``refresh()`` loads again every knowledge base whose index ``current`` now points
at another build (``kbot ingest`` swapped one in) and swaps it in whole; a build that fails to load leaves the previous
one serving. The server calls it every few seconds, so a new index is served without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kbot.config import Settings
from kbot.errors import KbotError, UnknownKnowledgeBase
from kbot.index import current_build, kb_index_dir
from kbot.knowledge_base import KnowledgeBase, configured, folder_of

log = logging.getLogger(__name__)

Loader = Callable[[str, Path, Settings, str], KnowledgeBase]


@dataclass(frozen=True)
class KbStatus:
    """What an operator needs to know about one knowledge base: is it serving, which build, or what is wrong."""

    name: str
    title: str
    sources: int
    build: str  # the build served ("" when none)
    built_at: str
    error: KbotError | None = None

    @property
    def ready(self) -> bool:
        return bool(self.build) and self.error is None


class Registry:
    def __init__(
        self,
        settings: Settings,
        model_name: str,
        loader: Loader = KnowledgeBase.load,
        only: Sequence[str] | None = None,
    ) -> None:
        self._settings, self._model, self._loader = settings, model_name, loader
        self._folders = {name: folder_of(settings, name) for name in only} if only else configured(settings)
        self._loaded: dict[str, KnowledgeBase] = {}
        self._errors: dict[str, KbotError] = {}
        self._tried: dict[str, Path | None] = {}  # the build each knowledge base was last loaded from, or tried at
        self._refreshing = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self._folders)

    def get(self, name: str) -> KnowledgeBase:
        """The knowledge base to answer from; its load error if it has none; UnknownKnowledgeBase if not configured."""
        kb = self._loaded.get(name)
        if kb is not None:
            return kb
        if name in self._errors:
            raise self._errors[name]
        raise UnknownKnowledgeBase(
            f"There is no knowledge base named {name!r}.", "ask one of those GET /v1/kbs lists (kbot kbs)"
        )

    def replaced(self, kb: KnowledgeBase) -> Registry:
        """A copy of this registry that serves ``kb`` under its name (experiments and tests change one this way)."""
        copy = Registry.__new__(Registry)
        copy.__dict__.update(self.__dict__)
        copy._loaded, copy._errors = {**self._loaded, kb.name: kb}, {**self._errors}
        copy._errors.pop(kb.name, None)
        copy._tried, copy._refreshing = dict(self._tried), threading.Lock()
        return copy

    def loaded(self) -> list[KnowledgeBase]:
        return [self._loaded[n] for n in self._folders if n in self._loaded]

    def refresh(self) -> list[str]:
        """Load each knowledge base whose current build is not the one last tried. Returns those now serving anew."""
        changed: list[str] = []
        with self._refreshing:
            for name, folder in self._folders.items():
                build = current_build(kb_index_dir(self._settings.index_dir, name))
                if name in self._tried and self._tried[name] == build:
                    continue
                self._tried[name] = build
                if self._load(name, folder):
                    changed.append(name)
        return changed

    def _load(self, name: str, folder: Path) -> bool:
        try:
            kb = self._loader(name, folder, self._settings, self._model)
        except KbotError as exc:
            self._failed(name, exc)
            return False
        except Exception:  # a crash in one knowledge base must not stop the others
            log.exception("loading the knowledge base %r failed", name)
            self._failed(name, KbotError(f"The knowledge base {name!r} failed to load; see the server log."))
            return False
        self._loaded[name] = kb  # one assignment: a question sees the old knowledge base or the new one, whole
        self._errors.pop(name, None)
        log.info("knowledge base %r: serving build %s (%d sources)", name, kb.build, len(kb.sources()))
        return True

    def _failed(self, name: str, exc: KbotError) -> None:
        if name in self._loaded:
            log.error("knowledge base %r: the new build cannot be loaded (%s); serving the previous one", name, exc)
        else:
            log.error("knowledge base %r cannot be served: %s (to fix it: %s)", name, exc.message, exc.fix or "-")
            self._errors[name] = exc

    def statuses(self) -> list[KbStatus]:
        out = []
        for name in self._folders:
            kb = self._loaded.get(name)
            if kb is None:
                out.append(KbStatus(name, "", 0, "", "", self._errors.get(name)))
            else:
                built_at = str(kb.index.manifest.get("built_at", ""))
                out.append(KbStatus(name, kb.profile.title, len(kb.sources()), kb.build, built_at))
        return out

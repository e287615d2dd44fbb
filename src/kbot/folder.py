"""A knowledge base's folder on disk: which files are its articles, which are kbot's own, and how an article is read.

The one place that decides what an article file is (a ``.txt`` or ``.md`` file directly in the folder, the suffix in
any case: ``A.MD`` too), so that the catalog, the corpus and the index's staleness check always agree on the same set
of files and read them the same way.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kbot.errors import CatalogError

ARTICLE_SUFFIXES = (".txt", ".md")
CATALOG_FILE = "sources.toml"  # what each article is and who published it
CALIBRATION_FILE = "abstention.toml"  # the abstention thresholds, written by `kbot calibrate`
SETTINGS_FILE = "kb.toml"  # the knowledge base's own settings: title, intro, starters, lexicon...
SAFETY_FILE = "safety.toml"  # the knowledge base's additions to the safety rules
OWN_FILES = (CATALOG_FILE, CALIBRATION_FILE, SETTINGS_FILE, SAFETY_FILE)


def is_article_name(name: str) -> bool:
    return Path(name).name == name and Path(name).suffix.lower() in ARTICLE_SUFFIXES


def article_files(folder: Path) -> list[Path]:
    """The folder's article files, sorted by name; none when the folder does not exist."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and is_article_name(p.name))


def unread_files(folder: Path) -> list[str]:
    """Files in the folder that are neither an article nor kbot's own, hidden files aside: ingest skips them and says
    so, since a curator who drops in a saved .html page or a .pdf expects it to be read."""
    if not folder.is_dir():
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and not is_article_name(p.name) and p.name not in OWN_FILES
    )


def read_source_text(path: Path) -> str:
    """A source file's text as offsets count it: UTF-8, newlines untranslated."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return f.read()
    except FileNotFoundError as exc:
        raise CatalogError(
            f"The article {path} does not exist.", "add it, or remove its entry from sources.toml"
        ) from exc
    except UnicodeDecodeError as exc:
        raise CatalogError(f"The article {path} is not UTF-8 text ({exc}).", "save it as UTF-8") from exc


def sha256(path: Path) -> str:
    """A file's SHA-256, read a block at a time (an index file can be most of a gigabyte)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sha256_all(paths: Iterable[Path]) -> list[str]:
    """Each file's SHA-256, on every core: hashing releases the GIL, and an index's files are gigabytes at scale."""
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return list(pool.map(sha256, paths))


def source_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of sources.toml and of every article file: what an index was built from."""
    catalog = folder / CATALOG_FILE
    hashes = {CATALOG_FILE: sha256(catalog)} if catalog.is_file() else {}
    for path in article_files(folder):
        hashes[path.name] = sha256(path)
    return hashes

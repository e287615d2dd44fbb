"""kbot medquad: MedQuAD's NIH consumer-health documents as a kbot knowledge base folder.

``documents`` reads MedQuAD's ``documents.jsonl.gz`` and chooses documents by split, site and number; ``article``
writes one document as a Markdown article the way its site publishes it, its headings by the kind of each section,
and ``layout`` its answers' paragraphs and list items; ``converter`` writes the folder whole or not at all, with
``sources.toml``, ``kb.toml`` and ``.medquad.json`` from ``kb_files``.
"""

from kbot.medquad.converter import Converted, convert

__all__ = ["Converted", "convert"]

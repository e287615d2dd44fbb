"""The reader: a cross-encoder that reorders retrieval's best candidates (``model.py``), and how it is trained
(``training.py``)."""

from kbot.reader.model import Reader, ReaderSettings, Reading, packaged_reader_dir, reader_id

__all__ = ["Reader", "ReaderSettings", "Reading", "packaged_reader_dir", "reader_id"]

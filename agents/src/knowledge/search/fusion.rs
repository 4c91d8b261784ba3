//! Reciprocal rank fusion: each retriever's ranked candidates into one
//! ranking, `score(chunk) = Σ 1 / (k + rank)` over the retrievers that
//! found it (ranks from 1, `k` = 60 as in Cormack, Clarke & Büttcher 2009).
//! Scores of different retrievers (BM25-like text ranks, cosine
//! similarities) are never added, only ranks: they need no calibration.
//! With one retriever the fused order is that retriever's.

use std::collections::HashMap;

use uuid::Uuid;

use super::full_text::Candidate;

/// The `k` of reciprocal rank fusion: how much the first places dominate.
pub const RRF_K: f64 = 60.0;

/// Which retriever found a list of candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retriever {
    /// Full-text search.
    FullText,
    /// Nearest vectors.
    Vector,
}

/// One chunk in the fused ranking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fused {
    /// The chunk.
    pub chunk_id: Uuid,
    /// The fused score, higher better.
    pub score: f64,
    /// The full-text retriever's score, when it found the chunk.
    pub text_score: Option<f64>,
    /// The vector retriever's score, when it found the chunk.
    pub vector_score: Option<f64>,
    /// Its best rank in any list (1-based), for ties.
    best_rank: usize,
}

/// The candidate lists fused, best first, ties broken by best single rank
/// and then by chunk id.
pub fn reciprocal_rank_fusion(lists: &[(Retriever, Vec<Candidate>)], k: f64) -> Vec<Fused> {
    let mut fused: HashMap<Uuid, Fused> = HashMap::new();
    for (retriever, candidates) in lists {
        for (index, candidate) in candidates.iter().enumerate() {
            let rank = index + 1;
            let entry = fused.entry(candidate.chunk_id).or_insert(Fused {
                chunk_id: candidate.chunk_id,
                score: 0.0,
                text_score: None,
                vector_score: None,
                best_rank: rank,
            });
            // A chunk listed twice by one retriever counts once, at its best place.
            let slot = match retriever {
                Retriever::FullText => &mut entry.text_score,
                Retriever::Vector => &mut entry.vector_score,
            };
            if slot.is_some() {
                continue;
            }
            *slot = Some(candidate.score);
            entry.score += 1.0 / (k + rank as f64);
            entry.best_rank = entry.best_rank.min(rank);
        }
    }
    let mut ranked: Vec<Fused> = fused.into_values().collect();
    ranked.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then(a.best_rank.cmp(&b.best_rank)).then(a.chunk_id.cmp(&b.chunk_id))
    });
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[u128]) -> Vec<Candidate> {
        ids.iter().map(|&id| Candidate { chunk_id: Uuid::from_u128(id), score: 1.0 / id as f64 }).collect()
    }

    #[test]
    fn one_retriever_keeps_its_order() {
        let fused = reciprocal_rank_fusion(&[(Retriever::FullText, list(&[3, 1, 2]))], RRF_K);
        let order: Vec<u128> = fused.iter().map(|f| f.chunk_id.as_u128()).collect();
        assert_eq!(order, [3, 1, 2]);
        assert!((fused[0].score - 1.0 / 61.0).abs() < 1e-12);
        assert_eq!(fused[0].text_score, Some(1.0 / 3.0));
        assert_eq!(fused[0].vector_score, None);
    }

    #[test]
    fn agreement_beats_one_first_place() {
        // 2 is second in both lists; 1 and 4 are first in one list only.
        let fused = reciprocal_rank_fusion(
            &[(Retriever::FullText, list(&[1, 2, 3])), (Retriever::Vector, list(&[4, 2, 5]))],
            RRF_K,
        );
        assert_eq!(fused[0].chunk_id.as_u128(), 2);
        assert!(fused[0].text_score.is_some() && fused[0].vector_score.is_some());
        assert!((fused[0].score - 2.0 / 62.0).abs() < 1e-12);
        // 1 and 4 tie on score and rank: the id decides.
        assert_eq!(fused[1].chunk_id.as_u128(), 1);
        assert_eq!(fused[2].chunk_id.as_u128(), 4);
        assert_eq!(fused.len(), 5);
    }
}

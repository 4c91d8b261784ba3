//! Mean pooling weighted by the attention mask, then L2 normalisation:
//! sentence-transformers' `Pooling(mean)` + `Normalize` for this model.
//!
//! The mask matters: candle's BERT example averages over every position,
//! padding included, so a short text's vector would depend on the longest
//! text it happened to share a batch with.

use candle_core::{Result, Tensor};

/// `hidden` `(batch, tokens, dim)` averaged over the tokens whose `mask`
/// `(batch, tokens)` is 1, each row scaled to unit length: `(batch, dim)`.
pub(super) fn mean_pool_normalized(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let mask = mask.to_dtype(hidden.dtype())?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    // The same floors as sentence-transformers (`clamp(min=1e-9)`) and
    // torch's `normalize` (`eps=1e-12`): a row without tokens or with a zero
    // mean stays finite instead of dividing by zero.
    let counts = mask.sum(1)?.maximum(1e-9f32)?;
    let mean = summed.broadcast_div(&counts)?;
    let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.maximum(1e-12f32)?;
    mean.broadcast_div(&norms)
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::mean_pool_normalized;

    fn pooled(hidden: Vec<f32>, shape: (usize, usize, usize), mask: Vec<u32>) -> Vec<Vec<f32>> {
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let hidden = Tensor::from_vec(hidden, shape, &Device::Cpu)?;
            let mask = Tensor::from_vec(mask, (shape.0, shape.1), &Device::Cpu)?;
            mean_pool_normalized(&hidden, &mask)?.to_vec2::<f32>()
        };
        run().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn padding_positions_do_not_count() {
        // Two real tokens, then padding whose hidden states are huge: the
        // mean is over the two real ones only.
        let rows = pooled(vec![1.0, 0.0, 3.0, 4.0, 1000.0, -1000.0], (1, 3, 2), vec![1, 1, 0]);
        let mean = [2.0f32, 2.0];
        let norm = (mean[0] * mean[0] + mean[1] * mean[1]).sqrt();
        assert!((rows[0][0] - mean[0] / norm).abs() < 1e-6, "{rows:?}");
        assert!((rows[0][1] - mean[1] / norm).abs() < 1e-6, "{rows:?}");
    }

    #[test]
    fn rows_have_unit_length() {
        let rows = pooled(vec![3.0, 4.0, 6.0, 8.0, 0.5, 0.0, 0.0, 0.0], (2, 2, 2), vec![1, 1, 1, 0]);
        for row in rows {
            let norm: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-6, "{row:?}");
        }
    }

    #[test]
    fn an_all_zero_row_stays_finite() {
        let rows = pooled(vec![0.0; 4], (1, 2, 2), vec![1, 1]);
        assert!(rows[0].iter().all(|x| x.is_finite()), "{rows:?}");
    }
}

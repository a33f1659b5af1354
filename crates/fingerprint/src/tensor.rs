//! A stored tensor as the readers describe it, in its *canonical* layout, and reading values
//! of it at chosen positions.
//!
//! The canonical layout is row-major over the canonical shape, outermost dimension first, as
//! PyTorch, safetensors and NumPy (C order) write it. GGUF lists dimensions innermost first
//! (`ne[0]` is the length of a row) over the same bytes, so its readers reverse the list; a
//! Fortran-ordered NumPy array keeps its shape and is read column-major.

use modelward_inventory::blob::{read_exact_at, Blob};

use crate::dtype::DType;
use crate::error::FingerprintError;

/// Most dimensions a tensor may have (ggml has 4, NumPy 64; more is refused).
pub const MAX_DIMS: usize = 8;
/// Longest read at once while gathering values.
const WINDOW: u64 = 1 << 20;
/// Largest hole read through (rather than skipped) between two wanted units.
const GAP: u64 = 64 << 10;

/// How the bytes order the elements of the canonical shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Order {
    /// Last dimension fastest (C order).
    RowMajor,
    /// First dimension fastest (Fortran order).
    ColumnMajor,
    /// Element `(i₀, i₁, …)` at storage element `Σ iₖ·strideₖ` (a PyTorch view).
    Strided(Vec<u64>),
}

/// One tensor of a file: its name, canonical shape, element type and where its data starts.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// Canonical shape, outermost first.
    pub shape: Vec<u64>,
    pub dtype: DType,
    /// Absolute byte offset of the first element in the file.
    pub offset: u64,
    pub order: Order,
}

impl TensorInfo {
    /// Number of elements (readers check that it does not overflow).
    pub fn numel(&self) -> u64 {
        self.shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .unwrap_or(u64::MAX)
    }

    /// Bytes of data, None when the shape does not fit the type's blocks or overflows.
    pub fn byte_len(&self) -> Option<u64> {
        self.dtype.bytes_for(self.span()?)
    }

    /// Storage elements the data spans: the element count, or for a strided view one past
    /// its farthest element. None on overflow.
    pub fn span(&self) -> Option<u64> {
        let n = self.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d))?;
        match &self.order {
            Order::Strided(strides) => {
                if strides.len() != self.shape.len() {
                    return None;
                }
                if n == 0 {
                    return Some(0);
                }
                self.shape
                    .iter()
                    .zip(strides)
                    .try_fold(1u64, |a, (&d, &s)| a.checked_add((d - 1).checked_mul(s)?))
            }
            _ => Some(n),
        }
    }

    /// The storage position of canonical element `i`.
    fn storage_index(&self, i: u64) -> u64 {
        match &self.order {
            Order::RowMajor => i,
            Order::ColumnMajor => {
                let mut rest = i;
                let mut coords = [0u64; MAX_DIMS];
                for (d, &len) in self.shape.iter().enumerate().rev() {
                    let len = len.max(1);
                    coords[d] = rest % len;
                    rest /= len;
                }
                let mut idx = 0u64;
                let mut stride = 1u64;
                for (d, &len) in self.shape.iter().enumerate() {
                    idx += coords[d] * stride;
                    stride = stride.saturating_mul(len);
                }
                idx
            }
            Order::Strided(strides) => {
                let mut rest = i;
                let mut idx = 0u64;
                for (&len, &s) in self.shape.iter().zip(strides).rev() {
                    let len = len.max(1);
                    idx += (rest % len) * s;
                    rest /= len;
                }
                idx
            }
        }
    }
}

/// Checks a tensor's shape, type and extent against the data region `data_end` of its file,
/// the checks every reader makes.
pub(crate) fn check(
    t: &TensorInfo,
    data_end: u64,
    format: &'static str,
) -> Result<(), FingerprintError> {
    let bad = |why: String| FingerprintError::bad(format, format!("tensor {:?}: {why}", t.name));
    if t.shape.len() > MAX_DIMS {
        return Err(bad(format!("{} dimensions", t.shape.len())));
    }
    let len = t.byte_len().ok_or_else(|| {
        bad(format!(
            "shape {:?} does not fit {} (overflow, or not whole blocks)",
            t.shape, t.dtype
        ))
    })?;
    let end = t
        .offset
        .checked_add(len)
        .ok_or_else(|| bad("data offset overflows".into()))?;
    if end > data_end {
        return Err(bad(format!(
            "data {}..{end} is past the end of the data ({data_end})",
            t.offset
        )));
    }
    Ok(())
}

/// Reads the values of `t` at the canonical positions `indices` (each below `t.numel()`),
/// in the order given. Reads go in windows of at most 1 MiB; non-finite values read as 0.
pub fn gather(
    blob: &dyn Blob,
    t: &TensorInfo,
    indices: &[u64],
) -> Result<Vec<f32>, FingerprintError> {
    let (ue, ub) = t.dtype.unit();
    let numel = t.numel();
    let mut order: Vec<(u64, u32)> = Vec::with_capacity(indices.len());
    for (pos, &i) in indices.iter().enumerate() {
        if i >= numel {
            return Err(FingerprintError::bad(
                "tensor",
                format!("{:?}: position {i} out of {numel} elements", t.name),
            ));
        }
        order.push((t.storage_index(i), pos as u32));
    }
    order.sort_unstable();
    let mut out = vec![0f32; indices.len()];
    let mut buf = Vec::new();
    let mut unit = vec![0f32; ue as usize];
    let mut k = 0;
    while k < order.len() {
        let first = order[k].0 / ue;
        let mut last = first;
        let mut j = k;
        while j < order.len() {
            let u = order[j].0 / ue;
            if u != last && ((u + 1 - first) * ub > WINDOW || (u - last - 1) * ub > GAP) {
                break;
            }
            last = u;
            j += 1;
        }
        let len = ((last + 1 - first) * ub) as usize;
        buf.resize(len, 0);
        read_exact_at(blob, t.offset + first * ub, &mut buf)?;
        let mut decoded = u64::MAX;
        for &(s, pos) in &order[k..j] {
            let u = s / ue;
            if u != decoded {
                let at = ((u - first) * ub) as usize;
                t.dtype.decode(&buf[at..at + ub as usize], &mut unit);
                decoded = u;
            }
            let v = unit[(s % ue) as usize];
            out[pos as usize] = if v.is_finite() { v } else { 0.0 };
        }
        k = j;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_row_and_column_major() {
        let data: Vec<u8> = (0..12u32).flat_map(|v| (v as f32).to_le_bytes()).collect();
        let mut t = TensorInfo {
            name: "t".into(),
            shape: vec![3, 4],
            dtype: DType::F32,
            offset: 0,
            order: Order::RowMajor,
        };
        assert_eq!(
            gather(&data, &t, &[5, 0, 11]).unwrap(),
            vec![5.0, 0.0, 11.0]
        );
        t.order = Order::ColumnMajor;
        // canonical (1, 1) is storage 1 + 1·3 = 4; (2, 3) is 2 + 3·3 = 11
        assert_eq!(
            gather(&data, &t, &[5, 11, 1]).unwrap(),
            vec![4.0, 11.0, 3.0]
        );
        assert!(gather(&data, &t, &[12]).is_err());
        assert!(check(&t, 47, "x").is_err());
        assert!(check(&t, 48, "x").is_ok());
        // a transposed view of the row-major 3×4: shape [4, 3], strides [1, 4]
        t.shape = vec![4, 3];
        t.order = Order::Strided(vec![1, 4]);
        assert_eq!(t.span(), Some(12));
        assert_eq!(
            gather(&data, &t, &[1, 3, 11]).unwrap(),
            vec![4.0, 1.0, 11.0]
        );
        t.order = Order::Strided(vec![u64::MAX, 1]);
        assert!(check(&t, 48, "x").is_err());
    }
}

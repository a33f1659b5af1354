//! `torch.randperm` on the CPU, against values torch 2.15.0 printed here
//! (`g = torch.Generator(); g.manual_seed(seed); torch.randperm(n, generator=g)`).

use modelward_watermark::torch_rng::{randperm, TorchGenerator, RANDPERM_SMALL_LIMIT};

fn rp(n: u32, seed: u64) -> Vec<u32> {
    randperm(n, &mut TorchGenerator::new(seed))
}

fn weighted_sum(p: &[u32]) -> u64 {
    p.iter()
        .enumerate()
        .map(|(i, &v)| i as u64 * v as u64)
        .sum()
}

#[test]
fn small_permutations_match_torch() {
    assert_eq!(rp(10, 5), [1, 4, 9, 6, 3, 5, 0, 2, 8, 7]);
    // manual_seed keeps the low 32 bits only.
    assert_eq!(rp(10, (1 << 40) + 5), [1, 4, 9, 6, 3, 5, 0, 2, 8, 7]);
    let p = rp(1000, 15_485_863);
    assert_eq!(
        p[..12],
        [958, 725, 179, 426, 565, 666, 461, 651, 863, 347, 768, 997]
    );
    assert_eq!(weighted_sum(&p), 250_358_939);
    let p = rp(50257, u64::MAX - 1);
    assert_eq!(
        p[..8],
        [11978, 9865, 12403, 11771, 40714, 38410, 13491, 36452]
    );
}

#[test]
fn selfhash_table_matches_torch() {
    // Transformers' fixed table: randperm(1_000_003) seeded with the default hashing key.
    let p = rp(1_000_003, 15_485_863);
    assert_eq!(
        p[..8],
        [138280, 994103, 467886, 915329, 149437, 806681, 915993, 784932]
    );
    assert_eq!(p[p.len() - 4..], [64375, 242875, 620478, 865023]);
    assert_eq!(weighted_sum(&p), 249_995_490_708_061_396);
}

/// Both sides of torch's threshold (`u32::MAX / 20`): 860 MB each and seconds of work, so
/// not run by default (`cargo test -p modelward-watermark --test torch_rng -- --ignored`).
#[test]
#[ignore]
fn both_sides_of_the_large_n_threshold_match_torch() {
    let n = RANDPERM_SMALL_LIMIT as u32;
    let p = rp(n, 1234);
    assert_eq!(
        p[..8],
        [100969727, 158921325, 34126064, 153621252, 78002392, 135095146, 53253043, 140506594]
    );
    assert_eq!(
        p[p.len() - 4..],
        [32976146, 158565904, 195757965, 123778259]
    );
    assert_eq!(p[n as usize / 2], 138331242);
    drop(p);
    let p = rp(n - 1, 1234);
    assert_eq!(
        p[..8],
        [178324686, 204713914, 94956476, 76615608, 162039448, 52020273, 151864083, 91740292]
    );
    assert_eq!(
        p[p.len() - 4..],
        [133481015, 169605607, 67425948, 187416993]
    );
}

//! Attack (storage): weight/checkpoint theft. A developer's role session
//! (`MLPlatformDev/rkumar@acme.example`) reads configuration files, notes and notebooks from
//! `acme-ml-config` for days (8 to 14 a day during office hours, never model weights); on
//! the span's last day, at 19:00–22:00 UTC, it lists `acme-ml-models`, downloads the four
//! `.safetensors` shards of `llama-3-8b-instruct/v3/` (16 GB) one to three minutes apart
//! with its own credentials, then a quantised `.gguf` release is fetched through a presigned
//! URL it signed (`AuthenticationMethod: QueryString`) from an outside address with curl.
//! Not scaled. MW-TH-0007 needs its warm-up (50 storage events over 7 days) before the
//! attack: run `--span 8d` or longer.

use super::storage::{
    last_day, office_hours, Access, Identity, StorageProfile, AWS_CLI, CONFIG_BUCKET, MODEL_BUCKET,
};
use super::{Slot, Window, HOUR};
use crate::rng::Rng;

const CONFIGS: [&str; 8] = [
    "configs/train/llama-3-8b-sft.yaml",
    "configs/eval/harness.yaml",
    "configs/serving/vllm.yaml",
    "docs/runbooks/retraining.md",
    "docs/model-cards/llama-3-8b-instruct.md",
    "notebooks/eval-report-2025-02.ipynb",
    "notebooks/tokenizer-stats.ipynb",
    "docs/architecture.md",
];
const SHARDS: [(&str, u64); 4] = [
    (
        "llama-3-8b-instruct/v3/model-00001-of-00004.safetensors",
        4_976_698_672,
    ),
    (
        "llama-3-8b-instruct/v3/model-00002-of-00004.safetensors",
        4_999_802_720,
    ),
    (
        "llama-3-8b-instruct/v3/model-00003-of-00004.safetensors",
        4_915_916_176,
    ),
    (
        "llama-3-8b-instruct/v3/model-00004-of-00004.safetensors",
        1_168_138_808,
    ),
];
const GGUF: (&str, u64) = ("releases/llama-3-8b-instruct.Q4_K_M.gguf", 4_920_739_232);

pub(crate) struct WeightTheft;

impl StorageProfile for WeightTheft {
    fn caller(&self) -> (Identity, String, &'static str) {
        (
            Identity::Role("MLPlatformDev".into(), "rkumar@acme.example".into()),
            super::ipv4("192.0.2", 58),
            AWS_CLI,
        )
    }

    fn slots(&self, window: &Window, rng: &mut Rng) -> Vec<Slot> {
        let mut slots = Vec::new();
        let attack = last_day(window) + 19 * HOUR + rng.below(3 * HOUR as u64) as i64;
        for t in office_hours(window, rng, (8, 14), attack) {
            slots.push(Slot::new(t, 0, 0, rng.below(CONFIGS.len() as u64) as i64));
        }
        let mut t = attack;
        slots.push(Slot::new(t, 0, 1, 0));
        for i in 0..SHARDS.len() {
            t += rng.between(60_000, 180_000) as i64;
            slots.push(Slot::new(t, 0, 2, i as i64));
        }
        t += rng.between(300_000, 900_000) as i64;
        slots.push(Slot::new(t, 0, 3, 0));
        slots
    }

    fn access(&self, slot: &Slot, rng: &mut Rng) -> Access {
        match slot.a {
            0 => {
                let key = CONFIGS[slot.b as usize % CONFIGS.len()];
                let size = if key.ends_with(".ipynb") {
                    rng.between(200_000, 2_500_000)
                } else {
                    rng.between(1_500, 40_000)
                };
                Access::get(CONFIG_BUCKET, key.to_owned(), size)
            }
            1 => Access::list(
                MODEL_BUCKET,
                "llama-3-8b-instruct/".into(),
                rng.between(3_000, 9_000),
            ),
            2 => {
                let (key, bytes) = SHARDS[slot.b as usize % SHARDS.len()];
                Access::get(MODEL_BUCKET, key.to_owned(), bytes)
            }
            _ => Access {
                presigned: true,
                from: Some((super::ipv4("203.0.113", 201), "curl/8.5.0")),
                ..Access::get(MODEL_BUCKET, GGUF.0.to_owned(), GGUF.1)
            },
        }
    }
}

//! Benign (storage): a deployment role (`ModelDeploy/model-deploy`) pulling the same served
//! model from `acme-ml-models` four times a day (about 06:05, 12:05, 18:05 and 23:05 UTC,
//! each within 20 minutes): its `config.json` and `tokenizer.json`, then the four
//! `.safetensors` shards of `llama-3-8b-instruct/v3/` (16 GB), 20 to 60 s apart, one
//! host, boto3. Not scaled. It reads weights only from its usual bucket, so MW-TH-0007 learns
//! the bucket during its warm-up and stays quiet after it.

use super::storage::{Access, Identity, StorageProfile, BOTO3, MODEL_BUCKET};
use super::{Slot, Window, HOUR, MINUTE};
use crate::rng::Rng;

const MODEL: &str = "llama-3-8b-instruct/v3";
/// The objects of a deployment and their sizes.
const OBJECTS: [(&str, u64); 6] = [
    ("config.json", 654),
    ("tokenizer.json", 9_085_698),
    ("model-00001-of-00004.safetensors", 4_976_698_672),
    ("model-00002-of-00004.safetensors", 4_999_802_720),
    ("model-00003-of-00004.safetensors", 4_915_916_176),
    ("model-00004-of-00004.safetensors", 1_168_138_808),
];

pub(crate) struct ModelDeploy;

impl StorageProfile for ModelDeploy {
    fn caller(&self) -> (Identity, String, &'static str) {
        (
            Identity::Role("ModelDeploy".into(), "model-deploy".into()),
            super::ipv4("198.51.100", 41),
            BOTO3,
        )
    }

    fn slots(&self, window: &Window, rng: &mut Rng) -> Vec<Slot> {
        let mut slots = Vec::new();
        for day in window.days() {
            for hour in [6, 12, 18, 23] {
                let mut t = day + hour * HOUR + 5 * MINUTE + rng.below(15 * 60_000) as i64;
                for (i, _) in OBJECTS.iter().enumerate() {
                    slots.push(Slot::new(t, 0, i as u64, 0));
                    t += rng.between(20_000, 60_000) as i64;
                }
            }
        }
        slots
    }

    fn access(&self, slot: &Slot, _: &mut Rng) -> Access {
        let (name, bytes) = OBJECTS[slot.a as usize % OBJECTS.len()];
        Access::get(MODEL_BUCKET, format!("{MODEL}/{name}"), bytes)
    }
}

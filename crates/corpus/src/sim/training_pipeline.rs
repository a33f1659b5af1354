//! Benign (storage): a training pipeline's service role (`TrainingPipeline/nightly-train`)
//! reading training shards from `acme-training-data` every night from 01:00 to 04:00 UTC, the
//! same volume every night from the first one: a `ListObjects` of the dataset's prefix per
//! 1 000 objects, then 3 000 objects at scale 1 (about 2 MB each, 6 GB a night), spread
//! evenly over the three hours, one host, boto3. Its hourly volume is steady, so the bulk
//! download analytics (MW-TH-0008) learn it within two nights and stay quiet.

use super::storage::{Access, Identity, StorageProfile, BOTO3, DATA_BUCKET};
use super::{Slot, Window, HOUR};
use crate::rng::Rng;

const OBJECTS_PER_NIGHT: f64 = 3_000.0;
const SHARDS: u64 = 24_000;

pub(crate) struct TrainingPipeline;

impl StorageProfile for TrainingPipeline {
    fn caller(&self) -> (Identity, String, &'static str) {
        (
            Identity::Role("TrainingPipeline".into(), "nightly-train".into()),
            super::ipv4("198.51.100", 40),
            BOTO3,
        )
    }

    fn slots(&self, window: &Window, rng: &mut Rng) -> Vec<Slot> {
        let mut slots = Vec::new();
        let count = window.count(OBJECTS_PER_NIGHT) as i64;
        let mut shard = rng.below(SHARDS);
        for day in window.days() {
            let from = day + HOUR;
            let gap = 3 * HOUR / count;
            for k in 0..count {
                let t = from + k * gap + rng.below(gap.max(1) as u64) as i64;
                if k % 1000 == 0 {
                    slots.push(Slot::new(t, 0, 0, (shard / 1000) as i64));
                }
                slots.push(Slot::new(t, 0, 1, shard as i64));
                shard = (shard + 1) % SHARDS;
            }
        }
        slots
    }

    fn access(&self, slot: &Slot, rng: &mut Rng) -> Access {
        if slot.a == 0 {
            Access::list(
                DATA_BUCKET,
                format!("corpus/v4/part-{:02}/", slot.b),
                rng.between(180_000, 240_000),
            )
        } else {
            Access::get(
                DATA_BUCKET,
                format!(
                    "corpus/v4/part-{:02}/shard-{:06}.parquet",
                    slot.b / 1000,
                    slot.b
                ),
                rng.log_normal(2_000_000.0, 0.08) as u64,
            )
        }
    }
}

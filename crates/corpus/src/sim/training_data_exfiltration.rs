//! Attack (storage): training-data exfiltration. An analyst's role session
//! (`DataAnalyst/mchen@acme.example`) reads a few small evaluation files from
//! `acme-training-data` every day (3 to 8 an hour from 09:00 to 17:00 UTC, 1–8 MB each); on
//! the span's last day at about 20:00 UTC it lists the corpus and reads 4 000 shards of about
//! 8 MB (32 GB) in under an hour, 0.5–1 s apart, with the AWS CLI (`s3 sync`). Not scaled.
//! MW-TH-0008 needs six active hours of history first (one working day).

use super::storage::{last_day, Access, Identity, StorageProfile, AWS_CLI, DATA_BUCKET};
use super::{Slot, Window, HOUR, MINUTE};
use crate::rng::Rng;

const SHARDS: i64 = 4_000;

pub(crate) struct TrainingDataExfiltration;

impl StorageProfile for TrainingDataExfiltration {
    fn caller(&self) -> (Identity, String, &'static str) {
        (
            Identity::Role("DataAnalyst".into(), "mchen@acme.example".into()),
            super::ipv4("192.0.2", 77),
            AWS_CLI,
        )
    }

    fn slots(&self, window: &Window, rng: &mut Rng) -> Vec<Slot> {
        let mut slots = Vec::new();
        let attack = last_day(window) + 20 * HOUR + rng.below(5 * MINUTE as u64) as i64;
        for day in window.days() {
            for hour in 9..17 {
                for _ in 0..rng.between(3, 8) {
                    let t = day + hour * HOUR + rng.below(HOUR as u64) as i64;
                    if t < attack {
                        slots.push(Slot::new(t, 0, 0, rng.below(400) as i64));
                    }
                }
            }
        }
        let mut t = attack;
        let first = rng.below(20_000) as i64;
        for k in 0..SHARDS {
            if k % 1000 == 0 {
                slots.push(Slot::new(t, 0, 1, (first + k) / 1000));
                t += rng.between(500, 1_500) as i64;
            }
            slots.push(Slot::new(t, 0, 2, first + k));
            t += rng.between(500, 1_000) as i64;
        }
        slots
    }

    fn access(&self, slot: &Slot, rng: &mut Rng) -> Access {
        match slot.a {
            0 => Access::get(
                DATA_BUCKET,
                format!("curated/eval/qa-v2/part-{:05}.jsonl", slot.b),
                rng.between(1_000_000, 8_000_000),
            ),
            1 => Access::list(
                DATA_BUCKET,
                format!("corpus/v4/part-{:02}/", slot.b),
                rng.between(180_000, 240_000),
            ),
            _ => Access::get(
                DATA_BUCKET,
                format!(
                    "corpus/v4/part-{:02}/shard-{:06}.parquet",
                    slot.b / 1000,
                    slot.b
                ),
                rng.log_normal(8_000_000.0, 0.15) as u64,
            ),
        }
    }
}

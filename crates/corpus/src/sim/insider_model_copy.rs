//! Attack (storage): insider model copy. An employee's IAM user (`jsmith`) reads and writes
//! experiment results in `acme-ml-experiments` every day (6 to 12 requests during office
//! hours, metrics and notes, no weights); on the span's last day at 21:00–23:00 UTC it lists
//! a fine-tuned checkpoint in `acme-ml-models` and `CopyObject`s its six `.safetensors`
//! files, server-side, to a bucket of another account (`jsmith-archive-7f3a`, account
//! 444455556666), 20–60 s apart. Not scaled. The cross-account copy rule
//! (`storage_cross_account_copy`) raises it.

use super::storage::{
    last_day, office_hours, Access, Identity, StorageProfile, ACCOUNT, AWS_CLI, EXPERIMENT_BUCKET,
    MODEL_BUCKET,
};
use super::{Slot, Window, HOUR};
use crate::rng::Rng;

const CHECKPOINT: &str = "checkpoints/llama-3-8b-support-ft/step-12000";
const FILES: i64 = 6;
const DROP_BUCKET: &str = "jsmith-archive-7f3a";
const DROP_ACCOUNT: &str = "444455556666";

pub(crate) struct InsiderModelCopy;

impl StorageProfile for InsiderModelCopy {
    fn caller(&self) -> (Identity, String, &'static str) {
        (
            Identity::User("jsmith".into()),
            super::ipv4("192.0.2", 91),
            AWS_CLI,
        )
    }

    fn slots(&self, window: &Window, rng: &mut Rng) -> Vec<Slot> {
        let mut slots = Vec::new();
        let attack = last_day(window) + 21 * HOUR + rng.below(2 * HOUR as u64) as i64;
        for t in office_hours(window, rng, (6, 12), attack) {
            let kind = if rng.chance(0.3) { 1 } else { 0 };
            slots.push(Slot::new(t, 0, kind, rng.between(100, 180) as i64));
        }
        let mut t = attack;
        slots.push(Slot::new(t, 0, 2, 0));
        for k in 1..=FILES {
            t += rng.between(20_000, 60_000) as i64;
            slots.push(Slot::new(t, 0, 3, k));
        }
        slots
    }

    fn access(&self, slot: &Slot, rng: &mut Rng) -> Access {
        match slot.a {
            0 => Access::get(
                EXPERIMENT_BUCKET,
                format!("runs/exp-{}/metrics.json", slot.b),
                rng.between(2_000, 60_000),
            ),
            1 => Access::put(
                EXPERIMENT_BUCKET,
                format!("runs/exp-{}/notes.md", slot.b),
                rng.between(500, 8_000),
            ),
            2 => Access::list(
                MODEL_BUCKET,
                format!("{CHECKPOINT}/"),
                rng.between(2_000, 6_000),
            ),
            _ => {
                let name = format!("model-{:05}-of-{FILES:05}.safetensors", slot.b);
                Access {
                    event: "CopyObject",
                    bucket_account: DROP_ACCOUNT.to_owned(),
                    bytes_out: rng.between(220, 260),
                    copy_source: Some((
                        MODEL_BUCKET.to_owned(),
                        format!("{CHECKPOINT}/{name}"),
                        ACCOUNT.to_owned(),
                    )),
                    ..Access::get(DROP_BUCKET, format!("backup/step-12000/{name}"), 0)
                }
            }
        }
    }
}

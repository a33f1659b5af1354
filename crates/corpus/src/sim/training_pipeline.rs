//! Benign (storage): a training pipeline's service role (`TrainingPipeline/nightly-train`)
//! reading training shards from `acme-training-data` every night from 01:00 to 04:00 UTC, the
//! same volume every night from the first one: a `ListObjects` of the dataset's prefix per
//! 1 000 objects, then 3 000 objects at scale 1 (about 2 MB each, 6 GB a night), spread
//! evenly over the three hours, one host, boto3. Its hourly volume is steady, so the bulk
//! download analytics (MW-TH-0008) learn it within two nights and stay quiet.

use super::storage::{Access, Caller, Identity, BOTO3, DATA_BUCKET};
use super::{Call, Generator, Plan, Principal, Slot, Window, HOUR};
use crate::rng::Rng;

const OBJECTS_PER_NIGHT: f64 = 3_000.0;
const SHARDS: u64 = 24_000;

#[derive(Default)]
pub(crate) struct TrainingPipeline {
    callers: Vec<Caller>,
}

impl Generator for TrainingPipeline {
    fn plan(&mut self, window: &Window, rng: &mut Rng) -> Plan {
        let caller = Caller::new(
            Identity::Role("TrainingPipeline".into(), "nightly-train".into()),
            rng,
        );
        let mut plan = Plan::default();
        plan.principals
            .push(caller.principal(super::ipv4("198.51.100", 40), BOTO3));
        self.callers.push(caller);
        let count = window.count(OBJECTS_PER_NIGHT) as i64;
        let mut shard = rng.below(SHARDS);
        for day in window.days() {
            let from = day + HOUR;
            let gap = 3 * HOUR / count;
            for k in 0..count {
                let t = from + k * gap + rng.below(gap.max(1) as u64) as i64;
                if k % 1000 == 0 {
                    plan.slots.push(Slot::new(t, 0, 0, (shard / 1000) as i64));
                }
                plan.slots.push(Slot::new(t, 0, 1, shard as i64));
                shard = (shard + 1) % SHARDS;
            }
        }
        plan
    }

    fn record(
        &self,
        slot: &Slot,
        principal: &Principal,
        rng: &mut Rng,
    ) -> (serde_json::Value, Option<String>) {
        let access = if slot.a == 0 {
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
        };
        super::storage::record(slot, principal, &self.callers[0], &access, rng)
    }

    fn render(&self, _: &Slot, _: &Principal, _: &mut Rng) -> Call {
        Call::storage()
    }

    fn requests_per_minute(&self) -> usize {
        usize::MAX
    }
}

//! What to write, and when: the world, the scheduled `ListKey` audit
//! records (ordinary ones and attack bursts), and the stream of ordinary
//! traffic between them.

use std::io::{self, Write};

use serde_json::Value;

use crate::records::{self, TICKS_PER_MILLI};
use crate::rng::Rng;
use crate::world::World;
use crate::{invalid, positive_span, representable_span, CorpusSpec};

/// At most this many ordinary `ListKey` calls per account over the whole
/// corpus, far below the seed rule's threshold of 100.
pub(crate) const ORDINARY_LIST_KEY_CAP: u64 = 40;
/// Attack bursts hold this many `ListKey` calls (inclusive range).
pub(crate) const BURST_SIZE: (u64, u64) = (110, 240);
/// Attack bursts last this many minutes (inclusive range).
const BURST_MINUTES: (u64, u64) = (15, 55);
/// Share of ordinary traffic that goes through an API Management gateway.
const GATEWAY_SHARE: f64 = 0.12;
/// About one record in this many is an ordinary `ListKey`, within the cap.
const ORDINARY_LIST_KEY_EVERY: u64 = 200;

const STREAM_WORLD: u64 = 1;
const STREAM_SCHEDULE: u64 = 2;
const STREAM_TRAFFIC: u64 = 3;

/// A `ListKey` audit record at a fixed time.
struct ListKeyCall {
    unix_ticks: i128,
    account: usize,
    caller: String,
}

pub(crate) struct Plan {
    world: World,
    /// Sorted by time.
    list_keys: Vec<ListKeyCall>,
    regular_count: u64,
    start_ticks: i128,
    span_ticks: i128,
    traffic: Rng,
    account_weights: Vec<f64>,
}

impl Plan {
    pub(crate) fn new(spec: &CorpusSpec) -> io::Result<Plan> {
        validate(spec)?;
        let mut world_rng = Rng::derived(spec.seed, STREAM_WORLD);
        let world = World::build(&mut world_rng, spec.resources);
        let account_weights = (0..world.accounts.len())
            .map(|_| world_rng.log_normal(1.0, 0.9))
            .collect();
        let start_ticks = i128::from(spec.start_unix_ms) * TICKS_PER_MILLI;
        let span_ticks = i128::from(spec.span_ms) * TICKS_PER_MILLI;
        let mut schedule_rng = Rng::derived(spec.seed, STREAM_SCHEDULE);
        let attacked = choose_attacked(
            &mut schedule_rng,
            world.accounts.len(),
            spec.attack_resources,
        );
        let mut list_keys = attack_bursts(&mut schedule_rng, &attacked, start_ticks, span_ticks);
        let attack_total = list_keys.len() as u64;
        if attack_total > spec.events {
            return Err(invalid(format!(
                "{} events cannot hold the {attack_total} ListKey calls of the attack bursts; \
                 ask for more events or fewer attack resources",
                spec.events
            )));
        }
        let remaining = spec.events - attack_total;
        let ordinary_total = (remaining / ORDINARY_LIST_KEY_EVERY)
            .min(world.accounts.len() as u64 * ORDINARY_LIST_KEY_CAP);
        list_keys.extend(ordinary_list_keys(
            &mut schedule_rng,
            &world,
            ordinary_total,
            start_ticks,
            span_ticks,
        ));
        list_keys.sort_by_key(|call| call.unix_ticks);
        Ok(Plan {
            world,
            list_keys,
            regular_count: remaining - ordinary_total,
            start_ticks,
            span_ticks,
            traffic: Rng::derived(spec.seed, STREAM_TRAFFIC),
            account_weights,
        })
    }

    /// Writes every record, in time order, one JSON object per line.
    pub(crate) fn write_all(mut self, out: &mut impl Write) -> io::Result<()> {
        let list_keys = std::mem::take(&mut self.list_keys);
        let mut pending = list_keys.into_iter().peekable();
        let picker = WeightedPicker::new(&self.account_weights);
        for index in 0..self.regular_count {
            let unix_ticks = self.regular_time(index);
            while let Some(call) = pending.next_if(|call| call.unix_ticks <= unix_ticks) {
                self.write_list_key(out, &call)?;
            }
            let record = self.regular_record(&picker, unix_ticks);
            write_record(out, &record)?;
        }
        for call in pending {
            self.write_list_key(out, &call)?;
        }
        Ok(())
    }

    /// Evenly spread times with jitter smaller than the gap, so that they
    /// never go backwards.
    fn regular_time(&mut self, index: u64) -> i128 {
        let count = i128::from(self.regular_count.max(1));
        let position = i128::from(index);
        let base = self.start_ticks + self.span_ticks * position / count;
        let gap = u64::try_from(self.span_ticks / count).unwrap_or(0);
        base + i128::from(self.traffic.below(gap))
    }

    fn regular_record(&mut self, picker: &WeightedPicker, unix_ticks: i128) -> Value {
        let world = &self.world;
        let rng = &mut self.traffic;
        if !world.gateways.is_empty() && rng.chance(GATEWAY_SHARE) {
            let gateway = world.gateways.get(rng.index(world.gateways.len()));
            let backend = gateway.and_then(|g| {
                let slot = g.backends.get(rng.index(g.backends.len()))?;
                world.accounts.get(*slot).map(|account| (g, account))
            });
            if let Some((gateway, account)) = backend {
                return records::gateway(rng, gateway, account, unix_ticks);
            }
        }
        match world.accounts.get(picker.pick(rng)) {
            Some(account) => records::request_response(rng, account, unix_ticks),
            None => Value::Null,
        }
    }

    fn write_list_key(&self, out: &mut impl Write, call: &ListKeyCall) -> io::Result<()> {
        match self.world.accounts.get(call.account) {
            Some(account) => write_record(
                out,
                &records::list_key(account, &call.caller, call.unix_ticks),
            ),
            None => Ok(()),
        }
    }
}

fn write_record(out: &mut impl Write, record: &Value) -> io::Result<()> {
    if record.is_null() {
        return Ok(());
    }
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}

fn validate(spec: &CorpusSpec) -> io::Result<()> {
    positive_span(spec.span_ms)?;
    if spec.resources == 0 {
        return Err(invalid("at least one resource is needed".to_owned()));
    }
    if spec.attack_resources > spec.resources {
        return Err(invalid(format!(
            "{} attack resources requested but only {} resources",
            spec.attack_resources, spec.resources
        )));
    }
    representable_span(spec.start_unix_ms, spec.span_ms)
}

/// The first `count` accounts of a random permutation.
fn choose_attacked(rng: &mut Rng, accounts: usize, count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..accounts).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.index(i + 1));
    }
    order.truncate(count);
    order
}

/// One burst per attacked account, all by the same stolen identity:
/// `BURST_SIZE` `ListKey` calls within `BURST_MINUTES` (less than an hour).
fn attack_bursts(
    rng: &mut Rng,
    attacked: &[usize],
    start_ticks: i128,
    span_ticks: i128,
) -> Vec<ListKeyCall> {
    let attacker = rng.guid();
    let mut calls = Vec::new();
    for &account in attacked {
        let minutes = rng.between(BURST_MINUTES.0, BURST_MINUTES.1);
        let window = (i128::from(minutes) * 60_000 * TICKS_PER_MILLI).min(span_ticks);
        let latest_start = u64::try_from(span_ticks - window).unwrap_or(0);
        let burst_start = start_ticks + i128::from(rng.below(latest_start));
        let window = u64::try_from(window).unwrap_or(0);
        for _ in 0..rng.between(BURST_SIZE.0, BURST_SIZE.1) {
            calls.push(ListKeyCall {
                unix_ticks: burst_start + i128::from(rng.below(window)),
                account,
                caller: attacker.clone(),
            });
        }
    }
    calls
}

/// `total` ordinary `ListKey` calls dealt round-robin over the accounts
/// (so none exceeds the cap), at random times, by each account's usual
/// key readers.
fn ordinary_list_keys(
    rng: &mut Rng,
    world: &World,
    total: u64,
    start_ticks: i128,
    span_ticks: i128,
) -> Vec<ListKeyCall> {
    let accounts = world.accounts.len().max(1) as u64;
    let span = u64::try_from(span_ticks).unwrap_or(0);
    (0..total)
        .map(|n| {
            let account = usize::try_from(n % accounts).unwrap_or(0);
            let caller = world
                .accounts
                .get(account)
                .and_then(|a| a.key_readers.get(rng.index(a.key_readers.len())))
                .cloned()
                .unwrap_or_default();
            ListKeyCall {
                unix_ticks: start_ticks + i128::from(rng.below(span)),
                account,
                caller,
            }
        })
        .collect()
}

/// Picks an index with probability proportional to its weight.
struct WeightedPicker {
    cumulative: Vec<f64>,
}

impl WeightedPicker {
    fn new(weights: &[f64]) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .iter()
            .map(|weight| {
                total += weight.max(0.0);
                total
            })
            .collect();
        WeightedPicker { cumulative }
    }

    fn pick(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let ticket = rng.unit() * total;
        let found = self.cumulative.partition_point(|edge| *edge <= ticket);
        found.min(self.cumulative.len().saturating_sub(1))
    }
}

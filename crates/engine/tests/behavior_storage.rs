//! The storage analyzers (MW-TH-0007, MW-TH-0008) end to end: CloudTrail S3 data events in,
//! through the normalizer and the engine, alerts out — and steady readers quiet.

mod common;

use modelward_behavior::{Behavior, Settings as BehaviorSettings};
use modelward_event::format_timestamp;
use modelward_rule::Alert;
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// 2025-03-01T00:00:00Z
const T0: i64 = 1_740_787_200_000;
const ACCOUNT: &str = "123456789012";

fn arn(role: &str) -> String {
    format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/session")
}

/// A CloudTrail S3 `GetObject` data event as AWS writes it.
fn get_object(ts: i64, role: &str, ip: &str, bucket: &str, key: &str, bytes: u64) -> Value {
    json!({
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": format!("AROA4EXAMPLE:{role}"),
            "arn": arn(role),
            "accountId": ACCOUNT,
            "accessKeyId": "ASIA4EXAMPLEKEYID01",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"), "accountId": ACCOUNT, "userName": role}}
        },
        "eventTime": format_timestamp(ts).replace(".000Z", "Z"),
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-west-2",
        "sourceIPAddress": ip,
        "userAgent": "[aws-cli/2.15.30 md/command#s3.cp]",
        "requestParameters": {"bucketName": bucket, "Host": format!("{bucket}.s3.us-west-2.amazonaws.com"), "key": key},
        "responseElements": null,
        "additionalEventData": {"SignatureVersion": "SigV4", "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader", "bytesTransferredOut": bytes},
        "requestID": format!("REQ{ts}"),
        "eventID": format!("{ts}-{role}-{key}"),
        "readOnly": true,
        "resources": [
            {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}
        ],
        "eventType": "AwsApiCall",
        "managementEvent": false,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Data"
    })
}

fn traffic() -> Vec<Value> {
    let mut lines = Vec::new();
    // A data scientist: datasets and one experiments bucket's checkpoints for ten days, then
    // the production model's shards.
    for d in 0..10 {
        for i in 0..8 {
            let ts = T0 + d * DAY + (9 + i) * HOUR;
            let key = format!("tables/part-{i}.parquet");
            lines.push(get_object(
                ts,
                "DataScientist",
                "10.0.4.7",
                "acme-datasets",
                &key,
                40_000_000,
            ));
        }
        let ts = T0 + d * DAY + 18 * HOUR;
        lines.push(get_object(
            ts,
            "DataScientist",
            "10.0.4.7",
            "acme-ml-experiments",
            "runs/7/checkpoint-100.pt",
            400_000_000,
        ));
    }
    for i in 0..4 {
        let ts = T0 + 10 * DAY + 9 * HOUR + i * 60_000;
        let key = format!("llama-3-8b/model-0000{}-of-00004.safetensors", i + 1);
        lines.push(get_object(
            ts,
            "DataScientist",
            "198.51.100.23",
            "acme-ml-models",
            &key,
            4_976_698_672,
        ));
    }
    // Serving loads the production model every six hours from its first day: its baseline.
    for k in 0..44 {
        let ts = T0 + k * 6 * HOUR + 5 * 60_000;
        lines.push(get_object(
            ts,
            "Serving",
            "10.0.9.1",
            "acme-ml-models",
            "llama-3-8b/model-00001-of-00004.safetensors",
            4_976_698_672,
        ));
    }
    // An ETL role reads 30 small shards an hour for two days, then 3,000 large ones in an hour.
    for h in 0..48 {
        for i in 0..30 {
            let ts = T0 + h * HOUR + i * 100_000;
            let key = format!("corpus/{h}/{i}.jsonl.gz");
            lines.push(get_object(
                ts,
                "EtlReader",
                "10.0.7.3",
                "acme-training-data",
                &key,
                4_000_000,
            ));
        }
    }
    for i in 0..3000 {
        let ts = T0 + 48 * HOUR + i * 1_000;
        let key = format!("corpus/full/{i}.jsonl.gz");
        lines.push(get_object(
            ts,
            "EtlReader",
            "203.0.113.50",
            "acme-training-data",
            &key,
            5_000_000,
        ));
    }
    lines.sort_by_key(|l| l["eventTime"].as_str().unwrap().to_string());
    lines
}

fn hunt(lines: &[Value]) -> Vec<Alert> {
    let (alerts, stats) = common::hunt_lines(
        "cloudtrail.ndjson",
        lines,
        Behavior::new(&BehaviorSettings::default()).unwrap(),
    );
    assert_eq!(stats.behavior_calls, lines.len() as u64);
    alerts
}

#[test]
fn storage_alerts_from_cloudtrail_and_quiet_steady_readers() {
    let alerts = hunt(&traffic());
    let by = common::by_rule_and_principal(&alerts, "MW-");
    let keys: Vec<(&str, &str, usize)> = by
        .iter()
        .map(|((c, p), v)| (c.as_str(), p.as_str(), v.len()))
        .collect();
    let (scientist, etl) = (arn("DataScientist"), arn("EtlReader"));
    assert_eq!(
        keys,
        [
            ("MW-TH-0007", scientist.as_str(), 1),
            // 20 GB of shards in an hour is also far above the scientist's reads.
            ("MW-TH-0008", scientist.as_str(), 1),
            ("MW-TH-0008", etl.as_str(), 1),
        ],
        "{by:#?}"
    );
    let weights = &by[&("MW-TH-0007".into(), scientist.clone())][0];
    assert_eq!(
        weights["evidence"]["pb53_vector"],
        json!("weight_checkpoint_theft")
    );
    assert_eq!(weights["evidence"]["object_count"], json!(4));
    assert_eq!(
        weights["evidence"]["bucket"],
        json!(format!("{ACCOUNT}/acme-ml-models"))
    );
    assert_eq!(
        weights["evidence"]["baseline"]["weight_buckets"][0]["bucket"],
        json!(format!("{ACCOUNT}/acme-ml-experiments"))
    );
    assert!(weights["message"]
        .as_str()
        .unwrap_or_default()
        .contains("outside its baseline: 4 objects, 19.91 GB"));
    let bulk = &by[&("MW-TH-0008".into(), etl.clone())][0];
    assert_eq!(
        bulk["evidence"]["pb53_vector"],
        json!("training_data_exfiltration")
    );
    assert_eq!(bulk["evidence"]["objects"], json!(3000));
    assert_eq!(bulk["evidence"]["bytes"], json!(15_000_000_000u64));
    let message = bulk["message"].as_str().unwrap_or_default().to_string();
    assert!(
        bulk.to_string()
            .contains("125× its median of 120 MB over the last 24 active windows"),
        "{message}"
    );
}

//! Object-storage traffic as AWS CloudTrail S3 data events, the shape the CloudTrail
//! normalizer reads (`docs/input.md`): one record per planned access, with the identity
//! (an assumed role or an IAM user of account 123456789012), the bucket and key, the bytes
//! sent, the authentication method (a presigned URL is `QueryString`), and for a
//! `CopyObject` the source in `x-amz-copy-source` and both buckets' owners in `resources`.

use chrono::DateTime;
use serde_json::{json, Value};

use super::{Call, Generator, Plan, Principal, Slot, Window};
use crate::rng::Rng;

/// The organisation's account, which owns the buckets below.
pub(crate) const ACCOUNT: &str = "123456789012";
/// Training datasets.
pub(crate) const DATA_BUCKET: &str = "acme-training-data";
/// Released and fine-tuned model weights.
pub(crate) const MODEL_BUCKET: &str = "acme-ml-models";
/// Configuration, notebooks and documents.
pub(crate) const CONFIG_BUCKET: &str = "acme-ml-config";
/// Experiment outputs of the ML team.
pub(crate) const EXPERIMENT_BUCKET: &str = "acme-ml-experiments";

pub(crate) const REGION: &str = "us-west-2";
pub(crate) const BOTO3: &str = "[Boto3/1.34.50 md/Botocore#1.34.50 ua/2.0 os/linux#5.10.210 md/arch#x86_64 lang/python#3.10.13 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.50]";
pub(crate) const AWS_CLI: &str = "[aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#debian.12 md/prompt#off md/command#s3.cp]";

/// An object-storage profile: one caller, whose requests are S3 accesses written as their
/// CloudTrail records; [`Storage`] makes it a [`Generator`].
pub(crate) trait StorageProfile {
    /// Who makes the requests, from which address, with which client.
    fn caller(&self) -> (Identity, String, &'static str);
    /// When: the slots of its one principal (0), planned once its caller is made.
    fn slots(&self, window: &Window, rng: &mut Rng) -> Vec<Slot>;
    /// The request of a planned slot.
    fn access(&self, slot: &Slot, rng: &mut Rng) -> Access;
}

/// A storage profile as a generator: the records of its accesses, never rate limited.
pub(crate) struct Storage<P> {
    profile: P,
    /// Its caller, made when planning.
    caller: Option<Caller>,
}

impl<P: StorageProfile> Storage<P> {
    pub(crate) fn new(profile: P) -> Storage<P> {
        Storage {
            profile,
            caller: None,
        }
    }
}

impl<P: StorageProfile> Generator for Storage<P> {
    fn plan(&mut self, window: &Window, rng: &mut Rng) -> Plan {
        let (identity, ip, user_agent) = self.profile.caller();
        let caller = Caller::new(identity, rng);
        let principals = vec![caller.principal(ip, user_agent)];
        self.caller = Some(caller);
        let slots = self.profile.slots(window, rng);
        Plan { principals, slots }
    }

    fn record(&self, slot: &Slot, principal: &Principal, rng: &mut Rng) -> (Value, Option<String>) {
        let access = self.profile.access(slot, rng);
        let caller = self
            .caller
            .as_ref()
            .expect("a storage profile records what it planned");
        record(slot, principal, caller, &access, rng)
    }

    fn render(&self, _: &Slot, _: &Principal, _: &mut Rng) -> Call {
        Call::storage()
    }

    fn requests_per_minute(&self) -> usize {
        usize::MAX
    }
}

/// Who makes the requests.
#[derive(Clone, Debug)]
pub(crate) enum Identity {
    /// An assumed role's session: role name, session name.
    Role(String, String),
    /// An IAM user.
    User(String),
}

/// An identity's CloudTrail `userIdentity` and derived names.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub(crate) identity: Identity,
    pub(crate) principal_id: String,
    pub(crate) access_key_id: String,
    pub(crate) role_id: String,
}

impl Caller {
    pub(crate) fn new(identity: Identity, rng: &mut Rng) -> Caller {
        let id = |rng: &mut Rng| rng.hex(16).to_ascii_uppercase();
        let role_id = format!("AROA{}", id(rng));
        let (principal_id, access_key_id) = match &identity {
            Identity::Role(_, session) => {
                (format!("{role_id}:{session}"), format!("ASIA{}", id(rng)))
            }
            Identity::User(_) => (format!("AIDA{}", id(rng)), format!("AKIA{}", id(rng))),
        };
        Caller {
            identity,
            principal_id,
            access_key_id,
            role_id,
        }
    }

    /// `userIdentity.arn`: the normalizer's `user.id`, which alerts name as the principal.
    pub(crate) fn arn(&self) -> String {
        match &self.identity {
            Identity::Role(role, session) => {
                format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}")
            }
            Identity::User(name) => format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        }
    }

    /// The normalizer's `user.name`: the role, or the user's name.
    pub(crate) fn name(&self) -> String {
        match &self.identity {
            Identity::Role(role, _) | Identity::User(role) => role.clone(),
        }
    }

    /// The simulation's principal of this caller (the ARN in place of an API key id).
    pub(crate) fn principal(&self, ip: String, user_agent: &'static str) -> Principal {
        Principal {
            api_key_id: self.arn(),
            user: self.name(),
            ip,
            user_agent,
            auth: "aws_sigv4",
        }
    }

    fn user_identity(&self) -> Value {
        match &self.identity {
            Identity::Role(role, _) => json!({
                "type": "AssumedRole",
                "principalId": self.principal_id,
                "arn": self.arn(),
                "accountId": ACCOUNT,
                "accessKeyId": self.access_key_id,
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": self.role_id,
                        "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
                        "accountId": ACCOUNT,
                        "userName": role,
                    },
                    "attributes": {"mfaAuthenticated": "false"},
                },
            }),
            Identity::User(name) => json!({
                "type": "IAMUser",
                "principalId": self.principal_id,
                "arn": self.arn(),
                "accountId": ACCOUNT,
                "accessKeyId": self.access_key_id,
                "userName": name,
            }),
        }
    }
}

/// One S3 request.
#[derive(Clone, Debug)]
pub(crate) struct Access {
    /// `GetObject`, `PutObject`, `CopyObject` or `ListObjects`.
    pub(crate) event: &'static str,
    pub(crate) bucket: String,
    /// The bucket owner.
    pub(crate) bucket_account: String,
    /// The object key (the prefix listed, for `ListObjects`).
    pub(crate) key: String,
    pub(crate) bytes_out: u64,
    pub(crate) bytes_in: u64,
    /// Through a presigned URL (`AuthenticationMethod: QueryString`).
    pub(crate) presigned: bool,
    /// For `CopyObject`: the source bucket, its key and its owner.
    pub(crate) copy_source: Option<(String, String, String)>,
    /// Client address and user agent other than the principal's.
    pub(crate) from: Option<(String, &'static str)>,
}

impl Access {
    pub(crate) fn get(bucket: &str, key: String, bytes: u64) -> Access {
        Access {
            event: "GetObject",
            bucket: bucket.to_owned(),
            bucket_account: ACCOUNT.to_owned(),
            key,
            bytes_out: bytes,
            bytes_in: 0,
            presigned: false,
            copy_source: None,
            from: None,
        }
    }

    pub(crate) fn put(bucket: &str, key: String, bytes: u64) -> Access {
        Access {
            event: "PutObject",
            bytes_out: 0,
            bytes_in: bytes,
            ..Access::get(bucket, key, 0)
        }
    }

    pub(crate) fn list(bucket: &str, prefix: String, bytes: u64) -> Access {
        Access {
            event: "ListObjects",
            ..Access::get(bucket, prefix, bytes)
        }
    }
}

fn timestamp(t_ms: i64) -> String {
    DateTime::from_timestamp_millis(t_ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The CloudTrail record of an access, and its `eventID`.
pub(crate) fn record(
    slot: &Slot,
    principal: &Principal,
    caller: &Caller,
    access: &Access,
    rng: &mut Rng,
) -> (Value, Option<String>) {
    let (ip, user_agent) = access
        .from
        .clone()
        .unwrap_or((principal.ip.clone(), principal.user_agent));
    let host = format!("{}.s3.{REGION}.amazonaws.com", access.bucket);
    let mut request = json!({"bucketName": access.bucket, "Host": host});
    let mut resources = Vec::new();
    if access.event == "ListObjects" {
        request["prefix"] = json!(access.key);
        request["list-type"] = json!("2");
        request["encoding-type"] = json!("url");
        request["max-keys"] = json!("1000");
    } else {
        request["key"] = json!(access.key);
        resources.push(json!({"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{}/{}", access.bucket, access.key)}));
    }
    resources.push(json!({"accountId": access.bucket_account, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{}", access.bucket)}));
    if let Some((bucket, key, account)) = &access.copy_source {
        request["x-amz-copy-source"] = json!(format!("{bucket}/{key}"));
        resources.push(
            json!({"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")}),
        );
        resources.push(json!({"accountId": account, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}));
    }
    if access.presigned {
        let signed =
            DateTime::from_timestamp_millis(slot.t_ms - rng.between(30_000, 900_000) as i64)
                .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
                .unwrap_or_default();
        request["X-Amz-Algorithm"] = json!("AWS4-HMAC-SHA256");
        request["X-Amz-Date"] = json!(signed);
        request["X-Amz-Expires"] = json!("3600");
        request["X-Amz-SignedHeaders"] = json!("host");
    }
    let event_id = rng.guid();
    let read_only = matches!(access.event, "GetObject" | "ListObjects");
    let record = json!({
        "eventVersion": "1.10",
        "userIdentity": caller.user_identity(),
        "eventTime": timestamp(slot.t_ms),
        "eventSource": "s3.amazonaws.com",
        "eventName": access.event,
        "awsRegion": REGION,
        "sourceIPAddress": ip,
        "userAgent": user_agent,
        "requestParameters": request,
        "responseElements": if access.event == "CopyObject" { json!({"x-amz-server-side-encryption": "AES256"}) } else { Value::Null },
        "additionalEventData": {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": access.bytes_in,
            "AuthenticationMethod": if access.presigned { "QueryString" } else { "AuthHeader" },
            "x-amz-id-2": format!("{}=", rng.alphanumeric(56)),
            "bytesTransferredOut": access.bytes_out,
        },
        "requestID": rng.hex(16).to_ascii_uppercase(),
        "eventID": event_id,
        "readOnly": read_only,
        "resources": resources,
        "eventType": "AwsApiCall",
        "managementEvent": false,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Data",
    });
    (record, Some(event_id))
}

/// The start of the span's last day (or its start, when shorter), where attacks happen.
pub(crate) fn last_day(window: &super::Window) -> i64 {
    (window.end - super::DAY).max(window.start)
}

/// Times of a person's ordinary requests: `per_day` (low, high) a day between 08:00 and
/// 18:00 UTC, every day of the window, before `until`.
pub(crate) fn office_hours(
    window: &super::Window,
    rng: &mut Rng,
    per_day: (u64, u64),
    until: i64,
) -> Vec<i64> {
    let mut out = Vec::new();
    for day in window.days() {
        let n = rng.between(per_day.0, per_day.1);
        let mut times: Vec<i64> = (0..n)
            .map(|_| day + 8 * super::HOUR + rng.below(10 * super::HOUR as u64) as i64)
            .filter(|t| *t < until)
            .collect();
        times.sort_unstable();
        out.extend(times);
    }
    out
}

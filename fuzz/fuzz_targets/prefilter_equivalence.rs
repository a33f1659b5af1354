//! The literal prefilter changes no alert, on records generated from the normalizers'
//! fixtures: the fuzz input picks a fixture and drives `modelward_corpus::mutate` (values
//! that take rules and normalizers down other branches, guardrail policy keys exchanged).
//! Each generated record must keep the normalizers' contract (`check_provenance`: every
//! value a copy of the raw bytes or within its field's declared values), and the built-in
//! and test rules (and Elastic's, when `MODELWARD_ELASTIC_RULES` names a directory of them)
//! must give the same alerts with the prefilter on and off, without detectors (records the
//! prefilter rejects are then not parsed).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use modelward_engine::{Engine, EngineBuilder, EngineOptions, Session, VecSink};
use modelward_event::input::{parse_record, Reader, ReaderOptions};
use modelward_event::source::{check_provenance, normalizer_for, Normalized, SourceKind};
use serde_json::Value;

/// (source, raw bytes) of every fixture.
const FIXTURES: &[(&str, &[u8])] = &[
    (
        "aws_bedrock",
        include_bytes!("../../crates/event/tests/fixtures/aws_bedrock/converse.raw.json"),
    ),
    (
        "aws_bedrock",
        include_bytes!("../../crates/event/tests/fixtures/aws_bedrock/elastic_form.raw.json"),
    ),
    (
        "aws_bedrock",
        include_bytes!(
            "../../crates/event/tests/fixtures/aws_bedrock/guardrail_prompt_attack.raw.json"
        ),
    ),
    (
        "aws_bedrock",
        include_bytes!("../../crates/event/tests/fixtures/aws_bedrock/invoke_claude.raw.json"),
    ),
    (
        "azure_blob",
        include_bytes!(
            "../../crates/event/tests/fixtures/azure_blob/copy_blob_same_account.raw.json"
        ),
    ),
    (
        "azure_blob",
        include_bytes!(
            "../../crates/event/tests/fixtures/azure_blob/copy_blob_source_cross_account.raw.json"
        ),
    ),
    (
        "azure_blob",
        include_bytes!("../../crates/event/tests/fixtures/azure_blob/get_blob_oauth.raw.json"),
    ),
    (
        "azure_blob",
        include_bytes!("../../crates/event/tests/fixtures/azure_blob/get_blob_sas.raw.json"),
    ),
    (
        "azure_blob",
        include_bytes!(
            "../../crates/event/tests/fixtures/azure_blob/get_user_delegation_key.raw.json"
        ),
    ),
    (
        "azure_blob",
        include_bytes!("../../crates/event/tests/fixtures/azure_blob/list_blobs_denied.raw.json"),
    ),
    (
        "azure_blob",
        include_bytes!("../../crates/event/tests/fixtures/azure_blob/list_keys_activity.raw.json"),
    ),
    (
        "azure_openai",
        include_bytes!("../../crates/event/tests/fixtures/azure_openai/audit_listkey.raw.json"),
    ),
    (
        "azure_openai",
        include_bytes!("../../crates/event/tests/fixtures/azure_openai/elastic_form.raw.json"),
    ),
    (
        "azure_openai",
        include_bytes!("../../crates/event/tests/fixtures/azure_openai/gateway_chat.raw.json"),
    ),
    (
        "azure_openai",
        include_bytes!(
            "../../crates/event/tests/fixtures/azure_openai/properties_as_string.raw.json"
        ),
    ),
    (
        "azure_openai",
        include_bytes!(
            "../../crates/event/tests/fixtures/azure_openai/request_response_chat.raw.json"
        ),
    ),
    (
        "cloudtrail",
        include_bytes!(
            "../../crates/event/tests/fixtures/cloudtrail/copy_object_cross_account.raw.json"
        ),
    ),
    (
        "cloudtrail",
        include_bytes!("../../crates/event/tests/fixtures/cloudtrail/create_access_key.raw.json"),
    ),
    (
        "cloudtrail",
        include_bytes!(
            "../../crates/event/tests/fixtures/cloudtrail/get_bucket_policy_denied.raw.json"
        ),
    ),
    (
        "cloudtrail",
        include_bytes!(
            "../../crates/event/tests/fixtures/cloudtrail/get_object_presigned.raw.json"
        ),
    ),
    (
        "cloudtrail",
        include_bytes!("../../crates/event/tests/fixtures/cloudtrail/get_object_weights.raw.json"),
    ),
    (
        "cloudtrail",
        include_bytes!("../../crates/event/tests/fixtures/cloudtrail/list_objects_v2.raw.json"),
    ),
    (
        "gcs_audit",
        include_bytes!(
            "../../crates/event/tests/fixtures/gcs_audit/create_service_account_key.raw.json"
        ),
    ),
    (
        "gcs_audit",
        include_bytes!("../../crates/event/tests/fixtures/gcs_audit/objects_create.raw.json"),
    ),
    (
        "gcs_audit",
        include_bytes!(
            "../../crates/event/tests/fixtures/gcs_audit/objects_get_delegated.raw.json"
        ),
    ),
    (
        "gcs_audit",
        include_bytes!(
            "../../crates/event/tests/fixtures/gcs_audit/objects_get_denied_private_ip.raw.json"
        ),
    ),
    (
        "gcs_audit",
        include_bytes!("../../crates/event/tests/fixtures/gcs_audit/objects_list.raw.json"),
    ),
    (
        "litellm",
        include_bytes!("../../crates/event/tests/fixtures/litellm/call_failure.raw.json"),
    ),
    (
        "litellm",
        include_bytes!("../../crates/event/tests/fixtures/litellm/chat_success.raw.json"),
    ),
    (
        "litellm",
        include_bytes!("../../crates/event/tests/fixtures/litellm/logprobs_probe.raw.json"),
    ),
    (
        "modelward_llm",
        include_bytes!("../../crates/event/tests/fixtures/modelward_llm/chat_logprobs.raw.json"),
    ),
    (
        "s3_access",
        include_bytes!("../../crates/event/tests/fixtures/s3_access/anonymous_list.raw.log"),
    ),
    (
        "s3_access",
        include_bytes!("../../crates/event/tests/fixtures/s3_access/copy_source.raw.log"),
    ),
    (
        "s3_access",
        include_bytes!("../../crates/event/tests/fixtures/s3_access/get_weights.raw.log"),
    ),
    (
        "s3_access",
        include_bytes!("../../crates/event/tests/fixtures/s3_access/legacy_put.raw.log"),
    ),
    (
        "s3_access",
        include_bytes!("../../crates/event/tests/fixtures/s3_access/presigned_get.raw.log"),
    ),
];

const ESQL: &[(&str, &str)] = &[
    (
        "crates/engine/tests/rules/azure_openai_request_flood.toml",
        include_str!("../../crates/engine/tests/rules/azure_openai_request_flood.toml"),
    ),
    (
        "crates/engine/tests/rules/bedrock_credentials_in_content.toml",
        include_str!("../../crates/engine/tests/rules/bedrock_credentials_in_content.toml"),
    ),
    (
        "crates/engine/tests/rules/bedrock_guardrail_violations.toml",
        include_str!("../../crates/engine/tests/rules/bedrock_guardrail_violations.toml"),
    ),
    (
        "rules/esql/azure_openai_model_theft.toml",
        include_str!("../../rules/esql/azure_openai_model_theft.toml"),
    ),
];

const SIGMA: &[(&str, &str)] = &[
    (
        "rules/sigma/ai_model_theft.yml",
        include_str!("../../rules/sigma/ai_model_theft.yml"),
    ),
    (
        "rules/sigma/azure_openai_key_listing_burst.yml",
        include_str!("../../rules/sigma/azure_openai_key_listing_burst.yml"),
    ),
    (
        "rules/sigma/bedrock_guardrail_intervention.yml",
        include_str!("../../rules/sigma/bedrock_guardrail_intervention.yml"),
    ),
    (
        "rules/sigma/llm_offensive_tool_user_agent.yml",
        include_str!("../../rules/sigma/llm_offensive_tool_user_agent.yml"),
    ),
    (
        "rules/sigma/model_weights_download.yml",
        include_str!("../../rules/sigma/model_weights_download.yml"),
    ),
    (
        "rules/sigma/storage_access_sharing.yml",
        include_str!("../../rules/sigma/storage_access_sharing.yml"),
    ),
    (
        "rules/sigma/storage_cross_account_copy.yml",
        include_str!("../../rules/sigma/storage_cross_account_copy.yml"),
    ),
];

fn engine(prefilter: bool) -> Engine {
    let mut esql: Vec<_> = ESQL
        .iter()
        .map(|(name, text)| modelward_esql::parse_toml_rule(text, name).expect("rule loads"))
        .collect();
    if let Some(dir) = std::env::var_os("MODELWARD_ELASTIC_RULES") {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                if let Ok(rule) = modelward_esql::parse_toml_rule(&text, "elastic") {
                    esql.push(rule);
                }
            }
        }
    }
    let mut sigma = modelward_sigma::SigmaSet::default();
    for (name, text) in SIGMA {
        assert!(sigma.add_file(text, name).is_empty());
    }
    assert!(sigma.resolve().is_empty());
    EngineBuilder::new()
        .esql_rules(esql)
        .sigma(sigma)
        .options(EngineOptions {
            no_prefilter: !prefilter,
            ..EngineOptions::default()
        })
        .build()
}

fn engines() -> &'static (Engine, Engine) {
    static ENGINES: OnceLock<(Engine, Engine)> = OnceLock::new();
    ENGINES.get_or_init(|| (engine(true), engine(false)))
}

fn alerts(engine: &Engine, line: &[u8]) -> Vec<Value> {
    let mut session = Session::new(engine);
    let reader = Reader::from_read(
        "fuzz.ndjson",
        Box::new(std::io::Cursor::new(line.to_vec())),
        ReaderOptions::default(),
    )
    .expect("a reader over bytes");
    for batch in reader.flatten() {
        session.push(&batch, &mut |_| {});
    }
    let mut sink = VecSink::default();
    let _ = session.finish(&mut sink, &mut |_| {});
    sink.alerts.iter().map(|a| a.to_json()).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, choices)) = data.split_first() else {
        return;
    };
    let (source, raw) = FIXTURES[pick as usize % FIXTURES.len()];
    let Ok(mut value) = serde_json::from_slice::<Value>(raw) else {
        return; // S3 access log lines: the storage target covers them
    };
    let mut at = 0usize;
    let mut next = || {
        let b = choices.get(at).copied().unwrap_or(0);
        at += 1;
        u64::from(b)
    };
    modelward_corpus::mutate::mutate(&mut value, &mut next);
    let mut line = serde_json::to_vec(&value).expect("a value serializes");
    // Its contract, auto-detected and forced.
    let forced: SourceKind = source
        .parse()
        .expect("fixture directories are source names");
    if let Ok(objects) = parse_record(&line) {
        for object in objects {
            for kind in [SourceKind::Auto, forced] {
                let Some(normalizer) = normalizer_for(&object, kind) else {
                    continue;
                };
                let declared = normalizer.synthesized();
                if let Ok(Normalized::Event(doc) | Normalized::Partial(doc, _)) =
                    normalizer.normalize(object.clone())
                {
                    let violations = check_provenance(&line, &doc, &declared);
                    assert!(
                        violations.is_empty(),
                        "{}: {violations:?}",
                        normalizer.name()
                    );
                }
            }
        }
    }
    line.push(b'\n');
    let (on, off) = engines();
    assert_eq!(alerts(on, &line), alerts(off, &line));
});

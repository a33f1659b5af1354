#!/bin/sh
# Fetches Elastic's published LLM / GenAI ES|QL detection rules (elastic/detection-rules,
# Elastic License 2.0) at a pinned commit into a directory (default target/elastic-rules),
# for the prefilter equivalence test (crates/engine/tests/prefilter.rs), which runs them
# when the directory exists. They are not vendored: the licence is not the project's.
#
#   tools/fetch-elastic-rules.sh [DIR]
set -eu
COMMIT=14cf530f0d2177023092449cd9d9348b4a8884c2
DIR=${1:-target/elastic-rules}
BASE=https://raw.githubusercontent.com/elastic/detection-rules/$COMMIT/rules/integrations
RULES="
aws_bedrock/aws_bedrock_execution_without_guardrails.toml
aws_bedrock/aws_bedrock_guardrails_multiple_violations_by_single_user.toml
aws_bedrock/aws_bedrock_guardrails_multiple_violations_in_single_request.toml
aws_bedrock/aws_bedrock_high_confidence_misconduct_blocks_detected.toml
aws_bedrock/aws_bedrock_high_resource_consumption_detection.toml
aws_bedrock/aws_bedrock_multiple_attempts_to_use_denied_models_by_user.toml
aws_bedrock/aws_bedrock_multiple_sensitive_information_policy_blocks_detected.toml
aws_bedrock/aws_bedrock_multiple_topic_policy_blocks_detected.toml
aws_bedrock/aws_bedrock_multiple_validation_exception_errors_by_single_user.toml
aws_bedrock/aws_bedrock_multiple_word_policy_blocks_detected.toml
aws_bedrock/credential_access_aws_bedrock_credentials_in_model_prompt_or_completion.toml
aws_bedrock/execution_bedrock_high_risk_tool_invocation.toml
azure_openai/azure_openai_denial_of_ml_service_detection.toml
azure_openai/azure_openai_insecure_output_handling_detection.toml
azure_openai/azure_openai_model_theft_detection.toml
"
mkdir -p "$DIR"
for rule in $RULES; do
    out="$DIR/$(basename "$rule")"
    [ -s "$out" ] && continue
    curl -fsSL --retry 3 -o "$out.part" "$BASE/$rule"
    mv "$out.part" "$out"
done
echo "$(ls "$DIR" | wc -l) rules in $DIR (elastic/detection-rules@$COMMIT, Elastic License 2.0)"

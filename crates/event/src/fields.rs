//! The fields that say who made a request, from which address, and to which model: one
//! list each, in order of preference (the first present names it). An alert's entity
//! (`entity.principal`, `entity."source.ip"`, `entity.model`), the behavioural analyzers'
//! principal and model, exceptions' `principals` and `ips` (which match any of the fields)
//! and the detectors' client address all read these lists.
//!
//! The normalizers in [`crate::source`] write these names; the others are those of events
//! normalized elsewhere (Elastic's integrations), which the rules also run on.

/// Fields naming the caller, most specific identity first: the user (an ARN for AWS, an
/// Entra object id or e-mail address elsewhere), then its display name, then an API key id,
/// then the identities of Azure OpenAI records (the Entra object id of RequestResponse logs,
/// the API Management subscription of gateway logs) and of Elastic's Bedrock integration,
/// then the generic `principal`. An address is not a principal: analyzers that key a caller
/// without one by its address fall back to [`SOURCE_IP`] themselves.
pub const PRINCIPAL: [&str; 7] = [
    "user.id",
    "user.name",
    "api_key.id",
    "azure.open_ai.properties.object_id",
    "azure.open_ai.properties.apim_subscription_id",
    "aws.bedrock.identity.arn",
    "principal",
];

/// Fields of the caller's address (ECS `source.ip`, else `client.ip`).
pub const SOURCE_IP: [&str; 2] = ["source.ip", "client.ip"];

/// Fields naming the model called: the model requested, Azure's model behind the deployment,
/// the deployment's name, the (versioned) model that answered, and Bedrock's model id
/// (`gen_ai.request.model` is an object there).
pub const MODEL: [&str; 5] = [
    "gen_ai.request.model",
    "azure.open_ai.properties.model_name",
    "azure.open_ai.properties.model_deployment_name",
    "gen_ai.response.model",
    "gen_ai.request.model.id",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_field_once() {
        let all: Vec<&str> = PRINCIPAL
            .iter()
            .chain(&SOURCE_IP)
            .chain(&MODEL)
            .copied()
            .collect();
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), all.len());
    }
}

//! The simulated Azure estate: subscriptions, Azure OpenAI accounts with
//! their model deployments, and API Management gateways in front of them.

use crate::rng::Rng;

/// What a deployed model is used for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModelKind {
    Chat,
    Embedding,
    Completion,
}

/// A model as Azure names it.
pub(crate) struct Model {
    pub(crate) name: &'static str,
    pub(crate) version: &'static str,
    pub(crate) kind: ModelKind,
    /// Vector size, for embedding models.
    pub(crate) dimensions: u64,
}

impl Model {
    /// The `model` value the API returns in its responses.
    pub(crate) fn response_id(&self) -> String {
        if self.version.contains('-') {
            format!("{}-{}", self.name, self.version)
        } else {
            self.name.to_owned()
        }
    }
}

const fn model(name: &'static str, version: &'static str, kind: ModelKind, dims: u64) -> Model {
    Model {
        name,
        version,
        kind,
        dimensions: dims,
    }
}

const CHAT_MODELS: [Model; 6] = [
    model("gpt-4o", "2024-08-06", ModelKind::Chat, 0),
    model("gpt-4o", "2024-11-20", ModelKind::Chat, 0),
    model("gpt-4o-mini", "2024-07-18", ModelKind::Chat, 0),
    model("gpt-4", "turbo-2024-04-09", ModelKind::Chat, 0),
    model("gpt-35-turbo", "0125", ModelKind::Chat, 0),
    model("gpt-4.1", "2025-04-14", ModelKind::Chat, 0),
];

const EMBEDDING_MODELS: [Model; 3] = [
    model("text-embedding-3-large", "1", ModelKind::Embedding, 3072),
    model("text-embedding-3-small", "1", ModelKind::Embedding, 1536),
    model("text-embedding-ada-002", "2", ModelKind::Embedding, 1536),
];

const COMPLETION_MODELS: [Model; 1] = [model(
    "gpt-35-turbo-instruct",
    "0914",
    ModelKind::Completion,
    0,
)];

const REGIONS: [(&str, &str); 10] = [
    ("eastus", "East US"),
    ("eastus2", "East US 2"),
    ("westeurope", "West Europe"),
    ("swedencentral", "Sweden Central"),
    ("francecentral", "France Central"),
    ("uksouth", "UK South"),
    ("japaneast", "Japan East"),
    ("australiaeast", "Australia East"),
    ("canadaeast", "Canada East"),
    ("northcentralus", "North Central US"),
];

const COMPANIES: [&str; 10] = [
    "contoso",
    "fabrikam",
    "northwind",
    "adatum",
    "tailspin",
    "woodgrove",
    "litware",
    "proseware",
    "wingtip",
    "fourthcoffee",
];

const TEAMS: [&str; 8] = [
    "ai-platform",
    "search",
    "support-bot",
    "marketing",
    "data-science",
    "copilot",
    "risk",
    "hr-assist",
];

const ENVIRONMENTS: [(&str, u32); 4] = [("prod", 5), ("dev", 3), ("test", 2), ("staging", 1)];

/// First three octets of client networks (private and documentation
/// ranges only).
const CLIENT_NETWORKS: [&str; 9] = [
    "10.20.31",
    "10.42.7",
    "10.128.64",
    "172.16.8",
    "172.24.130",
    "192.168.4",
    "192.0.2",
    "198.51.100",
    "203.0.113",
];

/// One model deployment in an account.
pub(crate) struct Deployment {
    pub(crate) name: String,
    pub(crate) model: &'static Model,
}

/// An Azure OpenAI (Cognitive Services) account.
pub(crate) struct Account {
    pub(crate) resource_id: String,
    pub(crate) name: String,
    pub(crate) region: &'static str,
    pub(crate) asset_identity: String,
    pub(crate) deployments: Vec<Deployment>,
    pub(crate) client_networks: Vec<&'static str>,
    /// Entra object ids of the people and pipelines that read its keys.
    pub(crate) key_readers: Vec<String>,
    /// Entra object ids of applications calling it with Entra auth.
    pub(crate) app_identities: Vec<String>,
}

impl Account {
    pub(crate) fn deployment(&self, kind: ModelKind) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.model.kind == kind)
    }
}

/// An API Management service fronting some accounts.
pub(crate) struct Gateway {
    pub(crate) resource_id: String,
    pub(crate) name: String,
    pub(crate) region_display: &'static str,
    pub(crate) sku: &'static str,
    pub(crate) deployment_version: &'static str,
    /// Indexes into the world's accounts.
    pub(crate) backends: Vec<usize>,
    pub(crate) subscriptions: Vec<String>,
    pub(crate) client_networks: Vec<&'static str>,
}

pub(crate) struct World {
    pub(crate) accounts: Vec<Account>,
    pub(crate) gateways: Vec<Gateway>,
}

impl World {
    /// Builds `accounts` accounts (at least one) and one gateway per eight
    /// accounts (at least one).
    pub(crate) fn build(rng: &mut Rng, accounts: usize) -> World {
        let subscriptions: Vec<String> = (0..rng.between(1, 3))
            .map(|_| rng.guid().to_uppercase())
            .collect();
        let accounts: Vec<Account> = (0..accounts.max(1))
            .map(|index| build_account(rng, index, &subscriptions))
            .collect();
        let gateway_count = accounts.len().div_ceil(8);
        let gateways = (0..gateway_count)
            .map(|index| build_gateway(rng, index, &subscriptions, accounts.len()))
            .collect();
        World { accounts, gateways }
    }
}

fn pick_subscription<'a>(rng: &mut Rng, subscriptions: &'a [String]) -> &'a str {
    subscriptions
        .get(rng.index(subscriptions.len()))
        .map_or("00000000-0000-0000-0000-000000000000", String::as_str)
}

fn build_account(rng: &mut Rng, index: usize, subscriptions: &[String]) -> Account {
    let (region, _) = rng.pick_copy(&REGIONS);
    let company = rng.pick(&COMPANIES);
    let team = rng.pick(&TEAMS);
    let environment = rng.weighted(&ENVIRONMENTS);
    let name = format!("{company}-openai-{region}-{:02}", index + 1);
    let group = format!("rg-{team}-{environment}");
    let subscription = pick_subscription(rng, subscriptions);
    let resource_id = format!(
        "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.CognitiveServices/accounts/{name}"
    )
    .to_uppercase();
    Account {
        resource_id,
        name,
        region,
        asset_identity: rng.guid(),
        deployments: build_deployments(rng, environment),
        client_networks: (0..rng.between(1, 3))
            .map(|_| rng.pick_copy(&CLIENT_NETWORKS))
            .collect(),
        key_readers: (0..rng.between(1, 3)).map(|_| rng.guid()).collect(),
        app_identities: (0..rng.between(1, 4)).map(|_| rng.guid()).collect(),
    }
}

fn build_deployments(rng: &mut Rng, environment: &str) -> Vec<Deployment> {
    let chat = rng.pick(&CHAT_MODELS);
    let embedding = rng.pick(&EMBEDDING_MODELS);
    let mut deployments = vec![
        Deployment {
            name: deployment_name(rng, chat, environment),
            model: chat,
        },
        Deployment {
            name: deployment_name(rng, embedding, environment),
            model: embedding,
        },
    ];
    if rng.chance(0.3) {
        let completion = rng.pick(&COMPLETION_MODELS);
        deployments.push(Deployment {
            name: deployment_name(rng, completion, environment),
            model: completion,
        });
    }
    deployments
}

fn deployment_name(rng: &mut Rng, model: &Model, environment: &str) -> String {
    match rng.below(3) {
        0 => model.name.to_owned(),
        1 => format!("{}-{environment}", model.name),
        _ => format!("{}-{}", model.name.replace('.', ""), rng.hex(4)),
    }
}

fn build_gateway(
    rng: &mut Rng,
    index: usize,
    subscriptions: &[String],
    account_count: usize,
) -> Gateway {
    let (_, region_display) = rng.pick_copy(&REGIONS);
    let company = rng.pick(&COMPANIES);
    let name = format!("{company}-ai-gateway-{:02}", index + 1);
    let group = format!("rg-ai-gateway-{:02}", index + 1);
    let subscription = pick_subscription(rng, subscriptions);
    let resource_id = format!(
        "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ApiManagement/service/{name}"
    )
    .to_uppercase();
    let first = (index * 8).min(account_count.saturating_sub(1));
    let last = ((index + 1) * 8).min(account_count);
    Gateway {
        resource_id,
        name,
        region_display,
        sku: rng.pick_copy(&["Developer", "Standard", "Premium", "StandardV2"]),
        deployment_version: rng.pick_copy(&["0.46.19984.0", "0.47.20410.0", "0.48.20815.0"]),
        backends: (first..last.max(first + 1)).collect(),
        subscriptions: (0..rng.between(2, 5))
            .map(|n| format!("{}-app-{n}", rng.pick(&TEAMS)))
            .collect(),
        client_networks: (0..rng.between(1, 3))
            .map(|_| rng.pick_copy(&CLIENT_NETWORKS))
            .collect(),
    }
}

//! The inference surface: one table of operations per API type. The graph declares them in
//! APIM (imported as an OpenAPI document in the API's own write), the policy template
//! derives its routing from them, `gw serve` matches requests against them, and the mocks
//! answer exactly these paths under the API type's Foundry path. One table, so the four
//! cannot disagree.
//!
//! Why declared operations rather than wildcard ones (`/*` per method): APIM answers 404 to
//! a path no operation declares, so a typo never reaches (or is billed by) Foundry; the
//! URL templates give the policy `MatchedParameters["deployment-id"]` for routing; and
//! `context.Operation.Id` lets the policy tell a call that names no model (a stored response,
//! the model list) from one that forgot it. The cost is keeping this table up to date with
//! the data plane (Azure OpenAI 2024-10-21 GA and 2025-03-01-preview, the v1 API).

use super::{Api, ApiOperation, ApiType};

/// Where a request names the model it asks for. The gateway tries, in order: the URL's
/// `deployment-id`, the JSON body's `model`, a multipart form's `model` field; an
/// operation that names none (`Model::None`) is routed by the affinity cookie or the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelIn {
    /// `/deployments/{deployment-id}/...`
    Path,
    /// The body: a JSON body's `model`, or a `multipart/form-data` body's `model` field
    /// (an audio upload).
    Body,
    /// Nothing to route on (GET of a stored response, the model list).
    None,
}

/// What the operation answers, so the mocks can answer it in its wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    ChatCompletion,
    Completion,
    Embeddings,
    Image,
    /// `{"text": ...}` for a transcription or translation.
    AudioText,
    /// Audio bytes.
    Speech,
    CreateResponse,
    GetResponse,
    DeleteResponse,
    InputItems,
    CancelResponse,
    ListModels,
    GetModel,
    /// Azure AI model inference `GET /info`.
    ModelInfo,
}

/// An API operation gw declares so APIM knows the URL templates (and their parameters).
#[derive(Clone, Copy, Debug)]
pub struct Operation {
    /// APIM's operation name (`context.Operation.Id`), unique per API.
    pub name: &'static str,
    pub display: &'static str,
    pub method: &'static str,
    /// The URL template after the API's path.
    pub url: &'static str,
    pub model: ModelIn,
    /// The answer may be server-sent events (`"stream": true`): it must be relayed as it
    /// arrives, never buffered.
    pub streams: bool,
    pub answer: Answer,
}

const fn op(
    name: &'static str,
    display: &'static str,
    method: &'static str,
    url: &'static str,
    model: ModelIn,
    streams: bool,
    answer: Answer,
) -> Operation {
    Operation {
        name,
        display,
        method,
        url,
        model,
        streams,
        answer,
    }
}

use Answer as A;
use ModelIn::{Body, None as NoModel, Path};

/// The v1 API (`/openai/v1/...`, model in the body), as the lab's spec copy has it plus
/// `cancel`. An `azure-openai` API serves it too, so `OpenAI(base_url=.../openai/v1)` and
/// `AzureOpenAI(azure_endpoint=...)` clients share one API.
const V1: &[Operation] = &[
    op(
        "v1-chat-completions",
        "Chat completions (v1)",
        "POST",
        "/v1/chat/completions",
        Body,
        true,
        A::ChatCompletion,
    ),
    op(
        "v1-embeddings",
        "Embeddings (v1)",
        "POST",
        "/v1/embeddings",
        Body,
        false,
        A::Embeddings,
    ),
    op(
        "v1-responses",
        "Create a response (v1)",
        "POST",
        "/v1/responses",
        Body,
        true,
        A::CreateResponse,
    ),
    op(
        "v1-get-response",
        "Get a response (v1)",
        "GET",
        "/v1/responses/{response-id}",
        NoModel,
        false,
        A::GetResponse,
    ),
    op(
        "v1-delete-response",
        "Delete a response (v1)",
        "DELETE",
        "/v1/responses/{response-id}",
        NoModel,
        false,
        A::DeleteResponse,
    ),
    op(
        "v1-response-input-items",
        "List a response's input items (v1)",
        "GET",
        "/v1/responses/{response-id}/input_items",
        NoModel,
        false,
        A::InputItems,
    ),
    op(
        "v1-cancel-response",
        "Cancel a background response (v1)",
        "POST",
        "/v1/responses/{response-id}/cancel",
        NoModel,
        false,
        A::CancelResponse,
    ),
    op(
        "v1-list-models",
        "List models (v1)",
        "GET",
        "/v1/models",
        NoModel,
        false,
        A::ListModels,
    ),
    op(
        "v1-get-model",
        "Get a model (v1)",
        "GET",
        "/v1/models/{model}",
        NoModel,
        false,
        A::GetModel,
    ),
];

/// The classic Azure OpenAI data plane (2024-10-21 GA, and 2025-03-01-preview's speech and
/// Responses), then the v1 API.
const AZURE_OPENAI: &[Operation] = &[
    op(
        "chat-completions",
        "Chat completions",
        "POST",
        "/deployments/{deployment-id}/chat/completions",
        Path,
        true,
        A::ChatCompletion,
    ),
    op(
        "completions",
        "Completions",
        "POST",
        "/deployments/{deployment-id}/completions",
        Path,
        true,
        A::Completion,
    ),
    op(
        "embeddings",
        "Embeddings",
        "POST",
        "/deployments/{deployment-id}/embeddings",
        Path,
        false,
        A::Embeddings,
    ),
    op(
        "image-generations",
        "Image generations",
        "POST",
        "/deployments/{deployment-id}/images/generations",
        Path,
        false,
        A::Image,
    ),
    op(
        "audio-transcriptions",
        "Audio transcriptions",
        "POST",
        "/deployments/{deployment-id}/audio/transcriptions",
        Path,
        true,
        A::AudioText,
    ),
    op(
        "audio-translations",
        "Audio translations",
        "POST",
        "/deployments/{deployment-id}/audio/translations",
        Path,
        false,
        A::AudioText,
    ),
    op(
        "audio-speech",
        "Audio speech",
        "POST",
        "/deployments/{deployment-id}/audio/speech",
        Path,
        true,
        A::Speech,
    ),
    op(
        "responses",
        "Create a response",
        "POST",
        "/responses",
        Body,
        true,
        A::CreateResponse,
    ),
    op(
        "get-response",
        "Get a response",
        "GET",
        "/responses/{response-id}",
        NoModel,
        false,
        A::GetResponse,
    ),
    op(
        "delete-response",
        "Delete a response",
        "DELETE",
        "/responses/{response-id}",
        NoModel,
        false,
        A::DeleteResponse,
    ),
    op(
        "response-input-items",
        "List a response's input items",
        "GET",
        "/responses/{response-id}/input_items",
        NoModel,
        false,
        A::InputItems,
    ),
];

/// The Azure AI model inference API (`/models/...`, model in the body).
const AZURE_AI: &[Operation] = &[
    op(
        "chat-completions",
        "Chat completions",
        "POST",
        "/chat/completions",
        Body,
        true,
        A::ChatCompletion,
    ),
    op(
        "embeddings",
        "Embeddings",
        "POST",
        "/embeddings",
        Body,
        false,
        A::Embeddings,
    ),
    op(
        "image-embeddings",
        "Image embeddings",
        "POST",
        "/images/embeddings",
        Body,
        false,
        A::Embeddings,
    ),
    op(
        "model-info",
        "Model info",
        "GET",
        "/info",
        NoModel,
        false,
        A::ModelInfo,
    ),
];

/// Every operation an API of type `t` declares, in a stable order.
/// A slice of the static table: serve matches every request against it, so nothing is built
/// per call.
pub fn operations(t: &ApiType) -> &'static [Operation] {
    static AZURE_OPENAI_ALL: std::sync::LazyLock<Vec<Operation>> =
        std::sync::LazyLock::new(|| AZURE_OPENAI.iter().chain(V1).copied().collect());
    match t {
        ApiType::AzureOpenAi => &AZURE_OPENAI_ALL,
        ApiType::AzureAi => AZURE_AI,
        ApiType::OpenAi => V1,
    }
}

/// Does any operation of the type stream? Where one may, the policy relays the response
/// unbuffered.
pub fn may_stream(t: &ApiType) -> bool {
    operations(t).iter().any(|o| o.streams)
}

/// The API's path in APIM (what follows the gateway URL). `azure-openai` APIs live at
/// `{path}/openai`, as `AzureOpenAI(azure_endpoint={gateway}/{path})` expects; `azure-ai` at
/// `{path}/models`; `openai` (the v1 API) at `{path}`, its operations starting `/v1/`.
pub fn apim_path(api: &Api) -> String {
    match api.api_type {
        ApiType::AzureOpenAi => format!("{}/openai", api.path),
        ApiType::AzureAi => format!("{}/models", api.path),
        ApiType::OpenAi => api.path.clone(),
    }
}

/// What a client must send as its key to the deployed gateway (printed by `gw apply`, in the
/// README). APIM reads the subscription key from the `api-key` header or query only: the
/// `bearer` key source the labs set is not in the APIM API's published schema, so gw does not
/// deploy it, and a v1 client's `Authorization: Bearer <key>` is not a subscription key.
pub const CLIENT_KEY_NOTE: &str = "Clients send the subscription key in the `api-key` header: AzureOpenAI(azure_endpoint=<API URL without /openai>, api_key=KEY) does. A v1 client, OpenAI(base_url=<API URL>/v1, api_key=KEY), sends its key as `Authorization: Bearer`, which APIM does not read as a subscription key: give it default_headers={\"api-key\": KEY} too.";

/// The names of a URL template's parameters: `/a/{b}/c` -> `b`.
pub fn template_params(url: &str) -> impl Iterator<Item = &str> {
    url.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(p, _)| p))
}

/// A concrete operation path on a Foundry account (`{foundry_path}{url}`) matched against
/// the table: the operation and its parameters. The mocks use it to answer only what
/// Foundry serves.
pub fn match_foundry_path(method: &str, path: &str) -> Option<(Operation, Vec<(String, String)>)> {
    for t in ApiType::ALL {
        let Some(rest) = path.strip_prefix(t.foundry_path()) else {
            continue;
        };
        for op in operations(&t).iter().filter(|o| o.method == method) {
            if let Some(params) = match_template(op.url, rest) {
                return Some((*op, params));
            }
        }
    }
    None
}

/// Matches `/a/{b}/c` against a path; gives the named segments (still percent-encoded).
pub fn match_template(template: &str, rest: &str) -> Option<Vec<(String, String)>> {
    if !rest.starts_with('/') {
        return None;
    }
    // Segment by segment, without collecting: serve runs this for every request.
    let mut want = template.trim_matches('/').split('/');
    let mut got = rest[1..].split('/');
    let mut params = Vec::new();
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) => {
                if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    if g.is_empty() {
                        return None;
                    }
                    params.push((name.to_string(), g.to_string()));
                } else if w != g {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// The table's operations for `t`, as an API imports them.
pub fn api_operations(t: &ApiType) -> Vec<ApiOperation> {
    operations(t)
        .iter()
        .map(|o| ApiOperation {
            name: o.name.into(),
            display: o.display.into(),
            method: o.method.into(),
            url: o.url.into(),
        })
        .collect()
}

impl Api {
    /// The operations APIM imports for this API: the spec's, else the type's whole surface.
    pub fn operations(&self) -> Vec<ApiOperation> {
        match &self.declared_operations {
            Some(ops) => ops.clone(),
            None => api_operations(&self.api_type),
        }
    }

    /// Whether the API has an operation for `method url` (a template as the table writes it):
    /// every table operation when gw declares them, else one the spec declares on that route.
    pub fn has_route(&self, method: &str, url: &str) -> bool {
        match &self.declared_operations {
            None => operations(&self.api_type)
                .iter()
                .any(|o| o.method == method && o.url == url),
            Some(ops) => ops
                .iter()
                .any(|d| d.method.eq_ignore_ascii_case(method) && same_route(&d.url, url)),
        }
    }

    /// The name APIM gives the operation that serves the table's `op` on this API: its own
    /// when gw declares the operations, else the declared one with the same method and
    /// template (parameter names aside), if any.
    pub fn operation_name_for(&self, op: &Operation) -> Option<String> {
        let Some(ops) = &self.declared_operations else {
            return Some(op.name.to_string());
        };
        ops.iter()
            .find(|d| d.method.eq_ignore_ascii_case(op.method) && same_route(&d.url, op.url))
            .map(|d| d.name.clone())
    }
}

/// Whether two templates are one route (parameter names aside).
pub fn same_route(a: &str, b: &str) -> bool {
    route_shape(a).eq_ignore_ascii_case(&route_shape(b))
}

/// The template with its parameter names dropped: `/a/{x}` and `/a/{y}` are one route.
pub(super) fn route_shape(url: &str) -> String {
    url.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_per_api_type_and_urls_unique_per_method() {
        for t in ApiType::ALL {
            let ops = operations(&t);
            let mut names: Vec<_> = ops.iter().map(|o| o.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), ops.len(), "{t:?}");
            let mut keys: Vec<_> = ops.iter().map(|o| (o.method, o.url)).collect();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), ops.len(), "{t:?}");
            // The deployment id is routed on only where the URL has one.
            for o in ops {
                assert_eq!(
                    o.model == ModelIn::Path,
                    o.url.contains("{deployment-id}"),
                    "{}",
                    o.name
                );
            }
        }
    }

    #[test]
    fn an_azure_openai_api_serves_the_classic_paths_responses_and_v1() {
        let ops = operations(&ApiType::AzureOpenAi);
        for url in [
            "/deployments/{deployment-id}/images/generations",
            "/deployments/{deployment-id}/audio/transcriptions",
            "/deployments/{deployment-id}/audio/speech",
            "/responses/{response-id}/input_items",
            "/v1/chat/completions",
            "/v1/responses",
            "/v1/models",
        ] {
            assert!(ops.iter().any(|o| o.url == url), "{url}");
        }
        assert!(may_stream(&ApiType::AzureOpenAi));
    }

    #[test]
    fn the_deployed_api_declares_every_operation_of_the_table_in_its_own_write() {
        use crate::diag::Source;
        let path = format!("{}/examples/azure-ai/gw.yaml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("example exists");
        let m = crate::model::load(
            &Source::new(path, text),
            &crate::model::Context { subscription: None },
        )
        .expect("example is valid");
        let g = crate::graph::build(&m);
        for api in &m.apis {
            let r = g
                .resources
                .iter()
                .find(|r| r.address == format!("apis.{}", api.name))
                .expect("the API");
            let doc: serde_json::Value = serde_json::from_str(
                r.body["properties"]["value"]
                    .as_str()
                    .expect("an OpenAPI document"),
            )
            .expect("JSON");
            for op in operations(&api.api_type) {
                let declared = &doc["paths"][op.url][op.method.to_ascii_lowercase()];
                assert_eq!(declared["operationId"], op.name, "{}: {}", api.name, op.url);
                // Written by the API's PUT, not a write of its own.
                let o = g
                    .resources
                    .iter()
                    .find(|x| x.address == format!("apis.{}.operations.{}", api.name, op.name))
                    .expect("the operation resource");
                assert_eq!(o.written_by.as_deref(), Some(r.address.as_str()));
            }
        }
    }

    #[test]
    fn foundry_paths_match_only_under_their_type_path() {
        let (op, params) =
            match_foundry_path("POST", "/openai/deployments/m/chat/completions").expect("match");
        assert_eq!(op.answer, Answer::ChatCompletion);
        assert_eq!(params, vec![("deployment-id".to_string(), "m".to_string())]);
        assert!(match_foundry_path("POST", "/models/chat/completions").is_some());
        assert!(match_foundry_path("GET", "/openai/v1/models").is_some());
        for wrong in [
            "/openai/chat/completions",
            "/v1/chat/completions",
            "/models/responses",
            "/openai/deployments//chat/completions",
        ] {
            assert!(match_foundry_path("POST", wrong).is_none(), "{wrong}");
        }
    }
}

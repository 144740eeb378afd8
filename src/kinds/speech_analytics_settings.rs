//! `SpeechAnalyticsSettings`: the org's Speech & Text Analytics settings (SDK 269
//! `SpeechTextAnalyticsSettingsRequest` / `Response`, `GET` and `PATCH
//! /api/v2/speechandtextanalytics/settings`). A singleton: at most one spec, never
//! deleted or pruned; fields a spec leaves out are not managed, and a write patches
//! only the managed fields. The default program is named, and refers to a Program.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::sentiment_feedback::is_dialect;
use super::{ApiResult, Fetched, Ids, Kind, Listed, Managed, Put, RemoteRef, SpecRef, sort_dedup};
use crate::genesys::client::STA;
use crate::genesys::{self, CallMeta, Client, Written};
use crate::spec::validate::Ctx;
use crate::spec::yaml::{Node, Seg, Value};

/// The one name (and id) of the singleton.
pub const NAME: &str = "settings";

/// The org's Speech & Text Analytics settings; fields left out are not managed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "SpeechAnalyticsSettings")]
pub struct SettingsSpec {
    /// The default program for topic detection: a Program name from this repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_program: Option<String>,
    /// Dialects expected in conversations (`{language}-{country}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_dialects: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_analytics_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_empathy_enabled: Option<bool>,
}

fn validate(ctx: &mut Ctx<'_>, spec: &SettingsSpec) {
    if let Some(p) = &spec.default_program
        && p.trim().is_empty()
    {
        ctx.error(
            "speechanalyticssettings.default-program-empty",
            ctx.pos(&[Seg::Key("defaultProgram")]),
            "`defaultProgram` must not be empty".into(),
            Some("name a Program spec, or leave the field out to not manage it".into()),
        );
    }
    for (i, d) in spec.expected_dialects.iter().flatten().enumerate() {
        if !is_dialect(d) {
            ctx.error(
                "speechanalyticssettings.dialect",
                ctx.pos(&[Seg::Key("expectedDialects"), Seg::Index(i)]),
                format!("dialect {d:?} is not {{language}}-{{country}}, such as en-US"),
                None,
            );
        }
    }
}

/// The normalised settings. `None`: not managed (in a spec) or not set (in the org).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_program: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_dialects: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_analytics_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_empathy_enabled: Option<bool>,
}

/// Wire shapes (SDK 269 `SpeechTextAnalyticsSettingsResponse` / `Request`).
pub mod wire {
    use serde::{Deserialize, Serialize};

    use crate::genesys::types::IdName;

    /// `GET /settings` (and the PATCH response).
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct SettingsResponse {
        pub default_program: Option<IdName>,
        pub expected_dialects: Option<Vec<String>>,
        pub text_analytics_enabled: Option<bool>,
        pub agent_empathy_enabled: Option<bool>,
    }

    /// The body of `PATCH /settings`: only the managed fields.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct SettingsRequest {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub default_program_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub expected_dialects: Option<Vec<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub text_analytics_enabled: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub agent_empathy_enabled: Option<bool>,
    }
}

fn path() -> String {
    format!("{STA}/settings")
}

impl Client {
    /// The org's settings.
    pub async fn get_settings(&self) -> ApiResult<wire::SettingsResponse> {
        self.get_at(&path()).await
    }
    /// Patches the given settings.
    pub async fn patch_settings(
        &self,
        body: &wire::SettingsRequest,
    ) -> ApiResult<Written<wire::SettingsResponse>> {
        self.patch(path(), body).await
    }
}

/// The settings as the org holds them; the default program named by its id until
/// `remote` names it from the program list.
fn from_wire(w: &wire::SettingsResponse) -> (Settings, Vec<RemoteRef>) {
    let refs: Vec<RemoteRef> = w
        .default_program
        .iter()
        .filter(|p| !p.id.is_empty())
        .map(|p| RemoteRef {
            kind: Kind::Program,
            id: p.id.clone(),
            name: if p.name.is_empty() {
                p.id.clone()
            } else {
                p.name.clone()
            },
        })
        .collect();
    let settings = Settings {
        name: NAME.into(),
        default_program: refs.first().map(|r| r.name.clone()),
        expected_dialects: w.expected_dialects.clone(),
        text_analytics_enabled: w.text_analytics_enabled,
        agent_empathy_enabled: w.agent_empathy_enabled,
    }
    .normalized();
    (settings, refs)
}

impl Managed for Settings {
    type Spec = SettingsSpec;
    const NAME: &'static str = "SpeechAnalyticsSettings";
    const SCHEMA_FILE: &'static str = "speechanalyticssettings.schema.json";
    const FILE_STEM: &'static str = "speech-analytics-settings";
    const REFERS_TO: &'static [Kind] = &[Kind::Program];
    const LIST_HAS_BODIES: bool = true;
    const SINGLETON: bool = true;

    fn validate(ctx: &mut Ctx<'_>, spec: &SettingsSpec) {
        validate(ctx, spec);
    }
    fn renamed_from(_spec: &SettingsSpec) -> Option<String> {
        None
    }
    fn from_spec(spec: SettingsSpec) -> Settings {
        Settings {
            name: NAME.into(),
            default_program: spec.default_program,
            expected_dialects: spec.expected_dialects,
            text_analytics_enabled: spec.text_analytics_enabled,
            agent_empathy_enabled: spec.agent_empathy_enabled,
        }
        .normalized()
    }
    fn to_spec(&self) -> SettingsSpec {
        SettingsSpec {
            default_program: self.default_program.clone(),
            expected_dialects: self.expected_dialects.clone(),
            text_analytics_enabled: self.text_analytics_enabled,
            agent_empathy_enabled: self.agent_empathy_enabled,
        }
    }
    fn spec_refs(node: &Node) -> Vec<SpecRef> {
        let field_pos = node.key_pos(&[Seg::Key("defaultProgram")]);
        match node.get(&[Seg::Key("defaultProgram")]) {
            Some(n) => match &n.value {
                Value::Str(s) => vec![SpecRef {
                    kind: Kind::Program,
                    name: s.clone(),
                    pos: (n.line, n.column),
                    field_pos,
                }],
                _ => Vec::new(),
            },
            None => Vec::new(),
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, _name: &str) {}
    fn normalized(mut self) -> Settings {
        self.name = NAME.into();
        if let Some(d) = &mut self.expected_dialects {
            sort_dedup(d);
        }
        self
    }
    fn refs(&self) -> Vec<(Kind, &str)> {
        self.default_program
            .iter()
            .map(|p| (Kind::Program, p.as_str()))
            .collect()
    }
    fn rename_refs(&mut self, rename: &dyn Fn(Kind, &str) -> Option<String>) {
        if let Some(p) = &mut self.default_program
            && let Some(new) = rename(Kind::Program, p)
        {
            *p = new;
        }
    }
    /// Fields the spec leaves out are not managed.
    fn seen_by(&self, desired: &Settings) -> Settings {
        Settings {
            name: NAME.into(),
            default_program: desired
                .default_program
                .as_ref()
                .and(self.default_program.clone()),
            expected_dialects: desired
                .expected_dialects
                .as_ref()
                .and(self.expected_dialects.clone()),
            text_analytics_enabled: desired
                .text_analytics_enabled
                .and(self.text_analytics_enabled),
            agent_empathy_enabled: desired
                .agent_empathy_enabled
                .and(self.agent_empathy_enabled),
        }
    }

    async fn list(client: &Client) -> ApiResult<Vec<Listed>> {
        let w = client.get_settings().await?;
        let (settings, refs) = from_wire(&w);
        let body: super::Object = settings.into();
        Ok(vec![Listed {
            unsettled: false,
            id: NAME.into(),
            name: NAME.into(),
            date_modified: None,
            published: false,
            modified_by: None,
            fingerprint: Some(body.sha256()),
            body: Some(body),
            refs,
        }])
    }

    async fn get(client: &Client, _id: &str) -> ApiResult<Fetched> {
        let w = client.get_settings().await?;
        let (settings, refs) = from_wire(&w);
        Ok(Fetched {
            id: NAME.into(),
            published: false,
            date_modified: None,
            body: settings.into(),
            refs,
            held_by: Vec::new(),
        })
    }

    /// Patches the managed fields; the default program by the id of its name.
    async fn put(
        &self,
        client: &Client,
        _id: Option<&str>,
        _previous: Option<&Settings>,
        ids: &Ids,
    ) -> ApiResult<Put> {
        let default_program_id = match &self.default_program {
            None => None,
            Some(name) => Some(
                ids.get(Kind::Program, name)
                    .map(str::to_string)
                    .ok_or_else(|| genesys::Error::Decode {
                        method: "-".into(),
                        path: "-".into(),
                        message: format!("default program {name:?} has no known id"),
                    })?,
            ),
        };
        let w = client
            .patch_settings(&wire::SettingsRequest {
                default_program_id,
                expected_dialects: self.expected_dialects.clone(),
                text_analytics_enabled: self.text_analytics_enabled,
                agent_empathy_enabled: self.agent_empathy_enabled,
            })
            .await?;
        Ok(Put::new(NAME.into(), None, false, w.meta))
    }

    /// The settings are never deleted.
    async fn delete(_client: &Client, _id: &str) -> ApiResult<Written<()>> {
        Ok(Written {
            value: (),
            meta: CallMeta::default(),
        })
    }

    #[cfg(test)]
    fn example(_name: String, tags: Vec<String>, flag: bool) -> Settings {
        Settings {
            name: NAME.into(),
            default_program: None,
            expected_dialects: Some(tags),
            text_analytics_enabled: Some(flag),
            agent_empathy_enabled: None,
        }
        .normalized()
    }

    fn decode_wire(body: &[u8]) -> usize {
        match serde_json::from_slice::<wire::SettingsResponse>(body) {
            Ok(w) => 1 + from_wire(&w).1.len(),
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmanaged_fields_are_not_changes() {
        let desired = Settings::from_spec(SettingsSpec {
            default_program: None,
            expected_dialects: None,
            text_analytics_enabled: Some(true),
            agent_empathy_enabled: None,
        });
        let remote = Settings {
            name: NAME.into(),
            default_program: Some("P".into()),
            expected_dialects: Some(vec!["en-US".into()]),
            text_analytics_enabled: Some(true),
            agent_empathy_enabled: Some(false),
        };
        assert_eq!(remote.seen_by(&desired), desired);
    }

    #[test]
    fn the_default_program_is_a_reference_by_name() {
        let (s, refs) = from_wire(&wire::SettingsResponse {
            default_program: Some(crate::genesys::types::IdName {
                id: "p1".into(),
                name: String::new(),
            }),
            ..Default::default()
        });
        assert_eq!(s.default_program.as_deref(), Some("p1"));
        assert_eq!(refs[0].name, "p1");
    }
}

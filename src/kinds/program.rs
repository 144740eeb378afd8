//! `Program`: a Speech & Text Analytics program grouping topics by name (SPEC 3.2,
//! 8.4). Published after a write; the list is cursor-paged and carries a count of
//! topics, not the topics, so bodies are read by id.

use std::collections::{HashMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    ApiResult, Fetched, Ids, Kind, Listed, Lookup, Managed, Object, Put, RemoteRef, SpecRef,
    default_true, refs_in_list, sort_dedup,
};
use crate::genesys::client::{Named, Req, STA, encode_segment};
use crate::genesys::{Client, Written, types::PublishJob};
use crate::spec::load::Entry;
use crate::spec::validate::{Ctx, common};
use crate::spec::yaml::{Node, Seg};
use crate::spec::{Diagnostic, Severity};

/// A Speech & Text Analytics program grouping topics.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "Program")]
pub struct ProgramSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Names of Topic specs in this repository.
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default = "default_true")]
    pub published: bool,
}

/// Genesys limit: topics per dialect per program.
pub const MAX_PROGRAM_TOPICS_PER_DIALECT: usize = 500;

/// Program rules that need only the document: non-empty, unique topic names.
fn validate(ctx: &mut Ctx<'_>, spec: &ProgramSpec) {
    common(ctx, &spec.name, spec.renamed_from.as_deref(), &spec.tags);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, t) in spec.topics.iter().enumerate() {
        let pos = ctx.pos(&[Seg::Key("topics"), Seg::Index(i)]);
        if t.trim().is_empty() {
            ctx.error(
                "program.topic-empty",
                pos,
                "topic names must not be empty".into(),
                None,
            );
        } else if let Some(first) = seen.get(t.as_str()) {
            let first_line = ctx.pos(&[Seg::Key("topics"), Seg::Index(*first)]).0;
            ctx.warning(
                "program.duplicate-topic",
                pos,
                format!("topic `{t}` is listed twice (also on line {first_line})"),
                Some("remove one of them".into()),
            );
        } else {
            seen.insert(t, i);
        }
    }
}

/// A normalised Speech & Text Analytics program. `topics` holds topic names, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Program {
    pub name: String,
    pub description: String,
    pub topics: Vec<String>,
    pub tags: Vec<String>,
    pub published: bool,
}

/// Wire shapes of `/api/v2/speechandtextanalytics/programs` (SDK 269
/// `ListedProgram`, `Program`, `ProgramRequest`).
pub mod wire {
    use serde::{Deserialize, Serialize};

    use crate::genesys::types::{IdName, nullable};

    /// A program as listed by `GET /programs` (ListedProgram): a count of its
    /// topics, not the topics themselves.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct ListedProgram {
        pub id: String,
        pub name: String,
        pub description: Option<String>,
        #[serde(deserialize_with = "nullable")]
        pub published: bool,
        pub topics_count: Option<u64>,
        #[serde(deserialize_with = "nullable")]
        pub tags: Vec<String>,
        pub modified_by: Option<IdName>,
        pub date_modified: Option<String>,
    }

    /// A full program from `GET /programs/{id}` (and the POST/PUT responses), with
    /// its member topics.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct Program {
        pub id: String,
        pub name: String,
        pub description: Option<String>,
        #[serde(deserialize_with = "nullable")]
        pub published: bool,
        #[serde(deserialize_with = "nullable")]
        pub tags: Vec<String>,
        #[serde(deserialize_with = "nullable")]
        pub topics: Vec<IdName>,
        pub date_modified: Option<String>,
    }

    /// Body of `POST /programs` and `PUT /programs/{id}`.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ProgramRequest {
        pub name: String,
        pub description: String,
        pub topic_ids: Vec<String>,
        pub tags: Vec<String>,
    }
}

/// A wire program as a normalised model program (topics by name).
pub fn from_wire(p: &wire::Program) -> Program {
    Program {
        name: p.name.clone(),
        description: p.description.clone().unwrap_or_default(),
        topics: p.topics.iter().map(|t| t.name.clone()).collect(),
        tags: p.tags.clone(),
        published: p.published,
    }
    .normalized()
}

/// Page size of the cursor-paged program list.
const PAGE_SIZE: u32 = 100;

fn path() -> String {
    format!("{STA}/programs")
}

fn path_of(id: &str) -> String {
    format!("{STA}/programs/{}", encode_segment(id))
}

impl Named for wire::Program {
    async fn find(client: &Client, name: &str) -> ApiResult<Option<Self>> {
        let listed = client.list_programs_named(Some(name)).await?;
        match listed.into_iter().find(|p| p.name == name) {
            Some(p) => Ok(Some(client.get_program(&p.id).await?)),
            None => Ok(None),
        }
    }
}

impl Client {
    /// Every program (ListedProgram: no member topics), following `nextUri`.
    pub async fn list_programs(&self) -> ApiResult<Vec<wire::ListedProgram>> {
        self.list_programs_named(None).await
    }
    /// Programs whose name contains `name` (case-insensitive), or all of them.
    pub async fn list_programs_named(
        &self,
        name: Option<&str>,
    ) -> ApiResult<Vec<wire::ListedProgram>> {
        let mut req = Req::get(path()).query("pageSize", PAGE_SIZE);
        if let Some(n) = name {
            req = req.query("name", n);
        }
        self.list_cursor(req).await
    }
    /// One full program, with its member topics.
    pub async fn get_program(&self, id: &str) -> ApiResult<wire::Program> {
        self.get_at(&path_of(id)).await
    }
    /// Creates a program (safe against duplicate creation on retry).
    pub async fn create_program(
        &self,
        body: &wire::ProgramRequest,
    ) -> ApiResult<Written<wire::Program>> {
        self.create(path(), &body.name, body).await
    }
    /// Replaces a program.
    pub async fn update_program(
        &self,
        id: &str,
        body: &wire::ProgramRequest,
    ) -> ApiResult<Written<wire::Program>> {
        self.put(path_of(id), body).await
    }
    /// Deletes a program; a 404 counts as success. `force` sends `forceDelete=true`,
    /// which Genesys requires to delete the org's default program.
    pub async fn delete_program(&self, id: &str, force: bool) -> ApiResult<Written<()>> {
        self.delete_at(path_of(id), force.then_some(("forceDelete", "true")))
            .await
    }
    /// Starts one publish job for these programs and polls it to completion.
    pub async fn publish_programs(&self, ids: &[String]) -> ApiResult<Written<PublishJob>> {
        if ids.is_empty() {
            return Ok(crate::genesys::client::nothing_to_publish());
        }
        self.publish(
            format!("{STA}/programs/publishjobs"),
            serde_json::json!({ "programIds": ids }),
        )
        .await
    }
}

impl Program {
    /// Canonical form: tags and topic names sorted.
    pub fn normalized(mut self) -> Program {
        sort_dedup(&mut self.tags);
        sort_dedup(&mut self.topics);
        self
    }
}

impl Managed for Program {
    type Spec = ProgramSpec;
    const NAME: &'static str = "Program";
    const SCHEMA_FILE: &'static str = "program.schema.json";
    const FILE_STEM: &'static str = "program";
    const REFERS_TO: &'static [Kind] = &[Kind::Topic];
    const PUBLISHABLE: bool = true;

    fn validate(ctx: &mut Ctx<'_>, spec: &ProgramSpec) {
        validate(ctx, spec);
    }

    fn renamed_from(spec: &ProgramSpec) -> Option<String> {
        spec.renamed_from.clone()
    }

    fn from_spec(spec: ProgramSpec) -> Program {
        Program {
            name: spec.name,
            description: spec.description,
            topics: spec.topics,
            tags: spec.tags,
            published: spec.published,
        }
        .normalized()
    }

    fn to_spec(&self) -> ProgramSpec {
        ProgramSpec {
            name: self.name.clone(),
            renamed_from: None,
            description: self.description.clone(),
            topics: self.topics.clone(),
            tags: self.tags.clone(),
            published: self.published,
        }
    }

    fn spec_refs(node: &Node) -> Vec<SpecRef> {
        refs_in_list(node, "topics", Kind::Topic)
    }

    /// At most 500 topics per dialect.
    fn check_tree(&self, entry: &Entry, lookup: &Lookup<'_>, diags: &mut Vec<Diagnostic>) {
        let mut per_dialect: HashMap<&str, usize> = HashMap::new();
        let mut counted: HashSet<&str> = HashSet::new();
        for name in &self.topics {
            if let Some(Object::Topic(topic)) = lookup(Kind::Topic, name)
                && counted.insert(name.as_str())
            {
                *per_dialect.entry(topic.dialect.as_str()).or_default() += 1;
            }
        }
        let mut over: Vec<_> = per_dialect
            .into_iter()
            .filter(|(_, n)| *n > MAX_PROGRAM_TOPICS_PER_DIALECT)
            .collect();
        over.sort();
        let field_pos = entry.refs.first().map_or(entry.doc_pos, |r| r.field_pos);
        for (dialect, n) in over {
            diags.push(Diagnostic::new(
                Severity::Error,
                "program.too-many-topics",
                format!(
                    "program {:?} has {n} {dialect} topics; Genesys allows at most \
{MAX_PROGRAM_TOPICS_PER_DIALECT} per dialect",
                    self.name
                ),
                &entry.file,
                field_pos,
                Some("split the program into several programs".into()),
            ));
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }
    fn published(&self) -> bool {
        self.published
    }
    fn set_published(&mut self, published: bool) {
        self.published = published;
    }
    fn normalized(self) -> Program {
        Program::normalized(self)
    }
    fn refs(&self) -> Vec<(Kind, &str)> {
        self.topics
            .iter()
            .map(|t| (Kind::Topic, t.as_str()))
            .collect()
    }
    fn rename_refs(&mut self, rename: &dyn Fn(Kind, &str) -> Option<String>) {
        for t in &mut self.topics {
            if let Some(new) = rename(Kind::Topic, t) {
                *t = new;
            }
        }
    }

    async fn list(client: &Client) -> ApiResult<Vec<Listed>> {
        Ok(client
            .list_programs()
            .await?
            .into_iter()
            .map(|p| Listed {
                fingerprint: Some(p.topics_count.unwrap_or_default().to_string()),
                id: p.id,
                name: p.name,
                date_modified: p.date_modified,
                published: p.published,
                modified_by: p.modified_by.map(|m| m.id),
                body: None,
                refs: Vec::new(),
            })
            .collect())
    }

    async fn get(client: &Client, id: &str) -> ApiResult<Fetched> {
        let p = client.get_program(id).await?;
        Ok(Fetched {
            body: from_wire(&p).into(),
            refs: p
                .topics
                .iter()
                .map(|t| RemoteRef {
                    kind: Kind::Topic,
                    id: t.id.clone(),
                    name: t.name.clone(),
                })
                .collect(),
            held_by: Vec::new(),
            id: p.id,
            published: p.published,
            date_modified: p.date_modified,
        })
    }

    async fn put(
        &self,
        client: &Client,
        id: Option<&str>,
        _previous: Option<&Program>,
        ids: &Ids,
    ) -> ApiResult<Put> {
        let topic_ids = ids.resolve(Kind::Topic, &self.topics).map_err(|missing| {
            crate::genesys::Error::Decode {
                method: "-".into(),
                path: "-".into(),
                message: format!(
                    "program {:?} references topics with no known id: {}",
                    self.name,
                    missing.join(", ")
                ),
            }
        })?;
        let req = wire::ProgramRequest {
            name: self.name.clone(),
            description: self.description.clone(),
            topic_ids,
            tags: self.tags.clone(),
        };
        let w = match id {
            Some(id) => client.update_program(id, &req).await?,
            None => client.create_program(&req).await?,
        };
        Ok(Put {
            id: w.value.id,
            date_modified: w.value.date_modified,
            published: w.value.published,
            meta: w.meta,
        })
    }

    async fn delete(client: &Client, id: &str) -> ApiResult<Written<()>> {
        client.delete_program(id, false).await
    }

    async fn publish(client: &Client, ids: &[String]) -> ApiResult<Written<PublishJob>> {
        client.publish_programs(ids).await
    }

    #[cfg(test)]
    fn scramble(&mut self) {
        self.topics.reverse();
        self.tags.reverse();
    }

    #[cfg(test)]
    fn example(name: String, tags: Vec<String>, published: bool) -> Program {
        Program {
            name,
            description: String::new(),
            topics: Vec::new(),
            tags,
            published,
        }
        .normalized()
    }

    fn decode_wire(body: &[u8]) -> usize {
        usize::from(serde_json::from_slice::<wire::Program>(body).is_ok())
            + usize::from(
                serde_json::from_slice::<crate::genesys::types::CursorPage<wire::ListedProgram>>(
                    body,
                )
                .is_ok(),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_topics_read_as_empty() {
        let p: wire::Program =
            serde_json::from_str(r#"{"id":"1","name":"n","topics":null}"#).unwrap();
        assert!(p.topics.is_empty());
    }
}

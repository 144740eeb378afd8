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
    /// Topic specs of this repository: a name, or `{name, dialect}` where topics of
    /// several dialects share the name.
    #[serde(default, with = "super::topic::topic_ref::list")]
    #[schemars(with = "Vec<super::topic::TopicRef>")]
    pub topics: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default = "default_true")]
    pub published: bool,
    /// Routing queue NAMES the program is mapped to (resolved to ids at plan time);
    /// absent: not managed; `[]`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<Vec<String>>,
    /// Architect flow names the program is mapped to; absent: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flows: Option<Vec<String>>,
    /// The program's transcription engines; absent: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcription_engines: Option<Vec<EngineSpec>>,
}

/// One transcription engine setting of a program (SDK `ProgramTranscriptionEngine`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EngineSpec {
    pub engine: Engine,
    /// `{language}-{country}` dialects.
    #[serde(default)]
    pub dialects: Vec<String>,
    /// The id of the integration a `TranscriptionConnector` engine uses; absent: not
    /// managed (the org's is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_integration: Option<String>,
}

super::string_enum!(
    /// A transcription engine.
    Engine { Genesys = "Genesys", GenesysExtended = "GenesysExtended", TranscriptionConnector = "TranscriptionConnector" }
);

impl PartialOrd for Engine {
    fn partial_cmp(&self, other: &Engine) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Engine {
    fn cmp(&self, other: &Engine) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
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
    for key in ["queues", "flows"] {
        let list = if key == "queues" {
            &spec.queues
        } else {
            &spec.flows
        };
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, name) in list.iter().flatten().enumerate() {
            let pos = ctx.pos(&[Seg::Key(key), Seg::Index(i)]);
            if name.trim().is_empty() {
                ctx.error(
                    &format!("program.{key}-empty"),
                    pos,
                    format!("{} names must not be empty", key.trim_end_matches('s')),
                    None,
                );
            } else if let Some(first) = seen.get(name.as_str()) {
                let line = ctx.pos(&[Seg::Key(key), Seg::Index(*first)]).0;
                ctx.warning(
                    &format!("program.duplicate-{key}"),
                    pos,
                    format!("`{name}` is listed twice (also on line {line})"),
                    Some("remove one of them".into()),
                );
            } else {
                seen.insert(name, i);
            }
        }
    }
    for (i, e) in spec.transcription_engines.iter().flatten().enumerate() {
        for (j, d) in e.dialects.iter().enumerate() {
            if !super::sentiment_feedback::is_dialect(d) {
                ctx.error(
                    "program.engine-dialect",
                    ctx.pos(&[
                        Seg::Key("transcriptionEngines"),
                        Seg::Index(i),
                        Seg::Key("dialects"),
                        Seg::Index(j),
                    ]),
                    format!("dialect {d:?} is not {{language}}-{{country}}, such as en-US"),
                    None,
                );
            }
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
    /// Queue names; `None`: not managed (specs) or not read (remote).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flows: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcription_engines: Option<Vec<EngineSpec>>,
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
        /// The job that links the program's topics after a write (SDK 269).
        pub topic_links_job: Option<Ref>,
    }

    /// `DELETE /programs/{id}` answers a `DeleteProgramResponse`.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct DeleteProgramResponse {
        pub id: String,
        /// The job that unlinks the program's topics.
        pub topic_links_job: Option<Ref>,
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

    /// `{id, selfUri}`.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
    #[serde(default)]
    pub struct Ref {
        pub id: String,
    }

    /// `GET`/`PUT /programs/{id}/mappings` (SDK `TopicsDefinitionsProgramMappings`).
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
    #[serde(default)]
    pub struct Mappings {
        #[serde(deserialize_with = "nullable")]
        pub queues: Vec<Ref>,
        #[serde(deserialize_with = "nullable")]
        pub flows: Vec<Ref>,
    }

    /// Body of `PUT /programs/{id}/mappings` (SDK `ProgramMappingsRequest`).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct MappingsRequest {
        pub queue_ids: Vec<String>,
        pub flow_ids: Vec<String>,
    }

    /// One `ProgramTranscriptionEngine`.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct Engine {
        pub engine: String,
        #[serde(deserialize_with = "nullable")]
        pub dialects: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub engine_integration: Option<Ref>,
    }

    /// `GET`/`PUT /programs/{id}/transcriptionengines` (`ProgramTranscriptionEngines`,
    /// and as the body `TranscriptionEnginesRequest`).
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct Engines {
        #[serde(deserialize_with = "nullable")]
        pub transcription_engines: Vec<Engine>,
    }

    /// A queue or flow as listed (`{id, name}`).
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
    #[serde(default)]
    pub struct Named {
        pub id: String,
        pub name: String,
    }
}

/// A wire program as a normalised model program, its topics by id: `remote` and
/// `import` name them from the topic listing, which tells topics of the same name in
/// different dialects apart (the program's own answer gives names only).
pub fn from_wire(p: &wire::Program) -> Program {
    Program {
        name: p.name.clone(),
        description: p.description.clone().unwrap_or_default(),
        topics: p.topics.iter().map(|t| t.id.clone()).collect(),
        tags: p.tags.clone(),
        published: p.published,
        queues: None,
        flows: None,
        transcription_engines: None,
    }
    .normalized()
}

/// A program read in full: its mappings (queue and flow ids, named later from the
/// names the specs use) and its transcription engines.
/// An engine speechops does not know is an error, never a substitute: writing one
/// back would change the org.
// The client's structured error is returned rarely; boxing it is not worth it.
#[allow(clippy::result_large_err)]
fn with_settings(
    mut p: Program,
    id: &str,
    m: &wire::Mappings,
    e: &wire::Engines,
) -> ApiResult<Program> {
    p.queues = Some(m.queues.iter().map(|q| q.id.clone()).collect());
    p.flows = Some(m.flows.iter().map(|f| f.id.clone()).collect());
    let mut engines = Vec::with_capacity(e.transcription_engines.len());
    for e in &e.transcription_engines {
        let Some(engine) = Engine::parse(&e.engine) else {
            return Err(crate::genesys::Error::Decode {
                method: "GET".into(),
                path: format!("{}/transcriptionengines", path_of(id)),
                message: format!(
                    "program {:?} uses transcription engine {:?}, which speechops does not \
know; it stops rather than guess",
                    p.name, e.engine
                ),
            });
        };
        engines.push(EngineSpec {
            engine,
            dialects: e.dialects.clone(),
            engine_integration: e.engine_integration.as_ref().map(|r| r.id.clone()),
        });
    }
    p.transcription_engines = Some(engines);
    Ok(p.normalized())
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
    async fn by_id(client: &Client, id: &str, name: &str) -> ApiResult<Option<Self>> {
        let p = client.get_program(id).await?;
        Ok((p.name == name).then_some(p))
    }

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
    /// Genesys unlinks the program's topics asynchronously (the answer's
    /// `topicLinksJob`): the delete returns once that job completed, so the topics
    /// it held can be deleted next.
    pub async fn delete_program(&self, id: &str, force: bool) -> ApiResult<Written<()>> {
        let mut req = Req::new(reqwest::Method::DELETE, path_of(id));
        if force {
            req = req.query("forceDelete", "true");
        }
        let w = self
            .delete_answer::<wire::DeleteProgramResponse>(req)
            .await?;
        if let Some(job) = w.value.and_then(|r| r.topic_links_job) {
            self.wait_topic_links(id, &job.id).await?;
        }
        Ok(Written {
            value: (),
            meta: w.meta,
        })
    }

    /// Waits for the topic-links job a program write started, if it did.
    async fn settle_links(&self, p: &wire::Program) -> ApiResult<()> {
        match &p.topic_links_job {
            Some(job) if !job.id.is_empty() => {
                self.wait_topic_links(&p.id, &job.id).await.map(|_| ())
            }
            _ => Ok(()),
        }
    }
    /// A program's queue and flow mappings (none, when Genesys has none: 404).
    pub async fn get_program_mappings(&self, id: &str) -> ApiResult<wire::Mappings> {
        match self.get_at(&format!("{}/mappings", path_of(id))).await {
            Err(crate::genesys::Error::Api { status: 404, .. }) => Ok(wire::Mappings::default()),
            other => other,
        }
    }
    /// Sets a program's mappings (the PUT replaces both lists).
    pub async fn put_program_mappings(
        &self,
        id: &str,
        body: &wire::MappingsRequest,
    ) -> ApiResult<Written<wire::Mappings>> {
        self.put(format!("{}/mappings", path_of(id)), body).await
    }
    /// A program's transcription engines (none, when Genesys has none: 404).
    pub async fn get_program_engines(&self, id: &str) -> ApiResult<wire::Engines> {
        match self
            .get_at(&format!("{}/transcriptionengines", path_of(id)))
            .await
        {
            Err(crate::genesys::Error::Api { status: 404, .. }) => Ok(wire::Engines::default()),
            other => other,
        }
    }
    /// Sets a program's transcription engines.
    pub async fn put_program_engines(
        &self,
        id: &str,
        body: &wire::Engines,
    ) -> ApiResult<Written<wire::Engines>> {
        self.put(format!("{}/transcriptionengines", path_of(id)), body)
            .await
    }
    /// Routing queues or Architect flows with exactly this name.
    pub async fn find_named(&self, class: &str, name: &str) -> ApiResult<Vec<String>> {
        let path = match class {
            "queue" => "/api/v2/routing/queues",
            _ => "/api/v2/flows",
        };
        let listed: Vec<wire::Named> = self.list_numbered(path, 100, Some(("name", name))).await?;
        Ok(listed
            .into_iter()
            .filter(|x| x.name == name)
            .map(|x| x.id)
            .collect())
    }
    /// Every routing queue or Architect flow of the org (`speechops org queues|flows`).
    pub async fn list_named(&self, class: &str) -> ApiResult<Vec<wire::Named>> {
        let path = match class {
            "queue" => "/api/v2/routing/queues",
            _ => "/api/v2/flows",
        };
        self.list_numbered(path, 100, None).await
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
    /// Canonical form: tags, topic, queue and flow names, engines sorted.
    pub fn normalized(mut self) -> Program {
        sort_dedup(&mut self.tags);
        sort_dedup(&mut self.topics);
        for list in [&mut self.queues, &mut self.flows].into_iter().flatten() {
            sort_dedup(list);
        }
        if let Some(engines) = &mut self.transcription_engines {
            for e in engines.iter_mut() {
                sort_dedup(&mut e.dialects);
            }
            engines.sort();
        }
        self
    }
}

impl Program {
    /// Writes the managed mappings and engines, each through its own endpoint. A
    /// mapping list the spec leaves out keeps what the org has (the PUT needs both).
    /// Returns whether it wrote anything.
    async fn put_settings(
        &self,
        client: &Client,
        id: &str,
        previous: Option<&Program>,
        ids: &Ids,
    ) -> ApiResult<bool> {
        let mut wrote = false;
        if self.queues.is_some() || self.flows.is_some() {
            // A name the plan resolved becomes its id; a value read back from the org
            // that no spec names (a rollback restoring it) is already an id.
            let resolve = |class: &str, names: &Option<Vec<String>>| -> Option<Vec<String>> {
                names.as_ref().map(|names| {
                    names
                        .iter()
                        .map(|n| ids.external(class, n).unwrap_or(n).to_string())
                        .collect()
                })
            };
            let (queues, flows) = (resolve("queue", &self.queues), resolve("flow", &self.flows));
            let current = if queues.is_none() || flows.is_none() {
                Some(client.get_program_mappings(id).await?)
            } else {
                None
            };
            let kept = |f: fn(&wire::Mappings) -> &Vec<wire::Ref>| {
                current
                    .as_ref()
                    .map(|m| f(m).iter().map(|r| r.id.clone()).collect())
                    .unwrap_or_default()
            };
            let body = wire::MappingsRequest {
                queue_ids: queues.unwrap_or_else(|| kept(|m| &m.queues)),
                flow_ids: flows.unwrap_or_else(|| kept(|m| &m.flows)),
            };
            client.put_program_mappings(id, &body).await?;
            wrote = true;
        }
        if let Some(engines) = &self.transcription_engines {
            // An integration the spec does not give keeps the org's, for that engine.
            let held = |engine: Engine| {
                previous
                    .and_then(|p| p.transcription_engines.as_ref())
                    .and_then(|list| list.iter().find(|e| e.engine == engine))
                    .and_then(|e| e.engine_integration.clone())
            };
            let body = wire::Engines {
                transcription_engines: engines
                    .iter()
                    .map(|e| wire::Engine {
                        engine: e.engine.as_str().to_string(),
                        dialects: e.dialects.clone(),
                        engine_integration: e
                            .engine_integration
                            .clone()
                            .or_else(|| held(e.engine))
                            .map(|id| wire::Ref { id }),
                    })
                    .collect(),
            };
            client.put_program_engines(id, &body).await?;
            wrote = true;
        }
        Ok(wrote)
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
            queues: spec.queues,
            flows: spec.flows,
            transcription_engines: spec.transcription_engines,
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
            queues: self.queues.clone(),
            flows: self.flows.clone(),
            transcription_engines: self.transcription_engines.clone(),
        }
    }

    fn spec_refs(node: &Node) -> Vec<SpecRef> {
        super::topic::refs_in_list(node, "topics")
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
    fn always_read(&self) -> bool {
        self.queues.is_some() || self.flows.is_some() || self.transcription_engines.is_some()
    }
    fn external_classes(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.queues.is_some() {
            out.push("queue");
        }
        if self.flows.is_some() {
            out.push("flow");
        }
        out
    }
    fn external_refs(&self) -> Vec<(&'static str, &str)> {
        let queues = self.queues.iter().flatten().map(|q| ("queue", q.as_str()));
        let flows = self.flows.iter().flatten().map(|f| ("flow", f.as_str()));
        queues.chain(flows).collect()
    }
    fn spec_external_refs(node: &Node) -> Vec<(&'static str, String, (u64, u64))> {
        let mut out = Vec::new();
        for (class, key) in [("queue", "queues"), ("flow", "flows")] {
            for r in refs_in_list(node, key, Kind::Program) {
                out.push((class, r.name, r.pos));
            }
        }
        out
    }
    fn rename_external(&mut self, rename: &dyn Fn(&str, &str) -> Option<String>) {
        for (class, list) in [("queue", &mut self.queues), ("flow", &mut self.flows)] {
            for x in list.iter_mut().flatten() {
                if let Some(new) = rename(class, x) {
                    *x = new;
                }
            }
        }
    }
    async fn resolve_external(
        client: &Client,
        names: Vec<(&'static str, String)>,
    ) -> ApiResult<super::Resolved> {
        let mut out = Vec::with_capacity(names.len());
        for (class, name) in names {
            let ids = client.find_named(class, &name).await?;
            out.push(((class, name), ids));
        }
        Ok(out)
    }
    /// Every queue and flow of the org, listed once per class.
    async fn name_external(
        client: &Client,
        ids: Vec<(&'static str, String)>,
    ) -> ApiResult<Vec<((&'static str, String), String)>> {
        let mut out = Vec::new();
        for (class, path) in [
            ("queue", "/api/v2/routing/queues"),
            ("flow", "/api/v2/flows"),
        ] {
            if !ids.iter().any(|(c, _)| *c == class) {
                continue;
            }
            let all: Vec<wire::Named> = client.list_numbered(path, 100, None).await?;
            for x in all {
                if ids.iter().any(|(c, id)| *c == class && *id == x.id) {
                    out.push(((class, x.id), x.name));
                }
            }
        }
        Ok(out)
    }
    /// Mappings and engines a spec leaves out are not managed.
    fn seen_by(&self, desired: &Program) -> Program {
        let mut seen = self.clone();
        if desired.queues.is_none() {
            seen.queues = None;
        }
        if desired.flows.is_none() {
            seen.flows = None;
        }
        match &desired.transcription_engines {
            None => seen.transcription_engines = None,
            // An integration a spec's engine leaves out is not managed.
            Some(wanted) => {
                if let Some(engines) = &mut seen.transcription_engines {
                    for e in engines.iter_mut() {
                        let managed = wanted
                            .iter()
                            .any(|w| w.engine == e.engine && w.engine_integration.is_some());
                        if !managed {
                            e.engine_integration = None;
                        }
                    }
                }
            }
        }
        seen
    }

    async fn list(client: &Client) -> ApiResult<Vec<Listed>> {
        Ok(client
            .list_programs()
            .await?
            .into_iter()
            .map(|p| Listed {
                unsettled: false,
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
        let (p, m, e) = tokio::join!(
            client.get_program(id),
            client.get_program_mappings(id),
            client.get_program_engines(id)
        );
        let p = p?;
        Ok(Fetched {
            body: with_settings(from_wire(&p), id, &m?, &e?)?.into(),
            refs: p
                .topics
                .iter()
                .map(|t| RemoteRef {
                    kind: Kind::Topic,
                    id: t.id.clone(),
                    name: t.id.clone(),
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
        previous: Option<&Program>,
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
        // The org links the topics asynchronously: a topic released here can be
        // deleted only once the links job is done. A failed job is a failed write
        // (recorded with its id, as it landed).
        if let Err(e) = client.settle_links(&w.value).await {
            return Ok(Put {
                id: w.value.id,
                date_modified: w.value.date_modified,
                published: w.value.published,
                meta: w.meta,
                incomplete: Some(e.to_string()),
            });
        }
        // The program landed: a failure of its mappings or engines is reported with
        // its id, so the write is recorded (and undone by --atomic).
        let (date_modified, incomplete) =
            match self.put_settings(client, &w.value.id, previous, ids).await {
                // The settings' writes may move the program's dateModified: record the last.
                Ok(true) => match client.get_program(&w.value.id).await {
                    Ok(p) => (p.date_modified, None),
                    Err(e) => (w.value.date_modified, Some(e.to_string())),
                },
                Ok(false) => (w.value.date_modified, None),
                Err(e) => (w.value.date_modified, Some(e.to_string())),
            };
        Ok(Put {
            id: w.value.id,
            date_modified,
            published: w.value.published,
            meta: w.meta,
            incomplete,
        })
    }

    async fn delete(client: &Client, id: &str) -> ApiResult<Written<()>> {
        client.delete_program(id, false).await
    }

    async fn publish(client: &Client, ids: &[String]) -> ApiResult<Written<PublishJob>> {
        client.publish_programs(ids).await
    }

    /// A program this run created and made the org's default cannot be unset as the
    /// default (the settings PATCH cannot clear it): the rollback deletes it with
    /// `forceDelete`, which leaves the org as it was before the run.
    async fn undo_create(client: &Client, id: &str) -> ApiResult<Written<()>> {
        client.delete_program(id, true).await
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
            queues: None,
            flows: None,
            transcription_engines: None,
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

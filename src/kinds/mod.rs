//! The kind registry: every kind of Genesys object speechops manages, each in one
//! module that owns everything about it.
//!
//! A kind module defines its normalised model type and implements [`Managed`] for it:
//! the spec type (and so its JSON Schema), per-spec validation, the canonical form,
//! identity, references to other kinds by name, the wire types and conversions, the
//! endpoints and their paging style, and publishing. The [`registry!`] line at the
//! bottom of this file turns the list of kinds into the [`Kind`] and [`Object`] enums
//! and the dispatch functions that the engine (loading, diff, remote fetch, executor,
//! import, schema, CLI help) calls; none of those names a kind.
//!
//! Adding a kind: write `src/kinds/<kind>.rs`, add one entry to the registry line,
//! write its sandbox module (`src/sandbox/kinds/<kind>.rs`) and its tests.

pub mod category;
pub mod dictionary_feedback;
pub mod program;
pub mod sentiment_feedback;
pub mod speech_analytics_settings;
pub mod speech_rule;
pub mod topic;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::genesys::{self, CallMeta, Client, Written, types::PublishJob};
use crate::spec::Diagnostic;
use crate::spec::load::Entry;
use crate::spec::validate::Ctx;
use crate::spec::yaml::{Node, Seg, Value};

/// The identity of a name within a scope: `Cancellation (es-US)`.
pub fn qualify(name: &str, scope: &str) -> String {
    format!("{name} ({scope})")
}

/// `("Cancellation", "es-US")` of `Cancellation (es-US)`: a name qualified by a
/// dialect-shaped scope (`ll-CC`); `None` for a plain name.
pub fn split_qualified(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_suffix(')')?;
    let at = inner.rfind(" (")?;
    let (base, scope) = (inner.get(..at)?, inner.get(at + 2..)?);
    let b = scope.as_bytes();
    let dialect = b.len() == 5
        && b[..2].iter().all(u8::is_ascii_lowercase)
        && b[2] == b'-'
        && b[3..].iter().all(u8::is_ascii_uppercase);
    (dialect && !base.is_empty()).then_some((base, scope))
}

/// The `(kind, base name)`s of scoped kinds that occur in more than one scope: their
/// objects' identities carry the scope.
pub fn shared_names<'a>(
    items: impl IntoIterator<Item = (Kind, &'a str, &'a str)>,
) -> BTreeSet<(Kind, String)> {
    let mut scopes: BTreeMap<(Kind, &str), BTreeSet<&str>> = BTreeMap::new();
    for (kind, base, scope) in items {
        if kind.scoped() {
            scopes.entry((kind, base)).or_default().insert(scope);
        }
    }
    scopes
        .into_iter()
        .filter(|(_, s)| s.len() > 1)
        .map(|((k, b), _)| (k, b.to_string()))
        .collect()
}

/// The name without its scope.
pub fn base_of(s: &str) -> &str {
    split_qualified(s).map_or(s, |(base, _)| base)
}

/// Result of a call to the org.
pub type ApiResult<T> = Result<T, genesys::Error>;

/// Another object that a remote body names, with the id it has in the org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    pub kind: Kind,
    pub id: String,
    pub name: String,
}

/// One object as its kind's list endpoint returns it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub date_modified: Option<String>,
    pub published: bool,
    /// Who last changed the object (`modifiedBy.id`), when the list says.
    pub modified_by: Option<String>,
    /// What else the listing says that changes with the object (a member count, a
    /// body hash): part of the remote fingerprint.
    pub fingerprint: Option<String>,
    /// The normalised body, for kinds whose list carries whole bodies.
    pub body: Option<Object>,
    /// The objects the listed body refers to (a name not known to the kind's own
    /// endpoint is the id; `remote` fills in the names from the other kinds' lists).
    pub refs: Vec<RemoteRef>,
    /// The org has not accepted the object (a dictionary term it rejected): read it
    /// in full whatever the lockfile proves.
    pub unsettled: bool,
}

/// One object read in full by id.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub id: String,
    pub published: bool,
    pub date_modified: Option<String>,
    pub body: Object,
    /// The objects this one refers to, as the org names them now.
    pub refs: Vec<RemoteRef>,
    /// The objects that refer to this one, where the org reports them.
    pub held_by: Vec<RemoteRef>,
}

/// A write that landed.
#[derive(Debug, Clone)]
pub struct Put {
    pub id: String,
    pub date_modified: Option<String>,
    pub published: bool,
    pub meta: CallMeta,
    /// The object was written, but a later part of the write failed (a program's
    /// mappings; the create of a replace, after which the old entry was put back):
    /// what failed. The write is recorded, and reported as failed.
    pub incomplete: Option<String>,
}

impl Put {
    /// A write that landed whole.
    pub fn new(id: String, date_modified: Option<String>, published: bool, meta: CallMeta) -> Put {
        Put {
            id,
            date_modified,
            published,
            meta,
            incomplete: None,
        }
    }
}

/// The org ids of objects by kind and name, for writes that refer to other objects;
/// and of objects outside speechops (queues, flows) by class and name.
#[derive(Debug, Clone, Default)]
pub struct Ids {
    managed: BTreeMap<(Kind, String), String>,
    external: BTreeMap<(String, String), String>,
}

impl Ids {
    pub fn insert(&mut self, kind: Kind, name: &str, id: &str) {
        self.managed
            .insert((kind, name.to_string()), id.to_string());
    }

    pub fn get(&self, kind: Kind, name: &str) -> Option<&str> {
        self.managed
            .get(&(kind, name.to_string()))
            .map(String::as_str)
    }

    /// Records the id of an outside object (`queue`, `flow`).
    pub fn insert_external(&mut self, class: &str, name: &str, id: &str) {
        self.external
            .insert((class.to_string(), name.to_string()), id.to_string());
    }

    /// The id of an outside object.
    pub fn external(&self, class: &str, name: &str) -> Option<&str> {
        self.external
            .get(&(class.to_string(), name.to_string()))
            .map(String::as_str)
    }

    /// Every outside object's `(class, name, id)`.
    pub fn externals(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.external
            .iter()
            .map(|((c, n), id)| (c.as_str(), n.as_str(), id.as_str()))
    }

    /// Adds the outside objects of `other`.
    pub fn extend_external(&mut self, other: &Ids) {
        for (k, v) in &other.external {
            self.external.insert(k.clone(), v.clone());
        }
    }

    /// The ids of `names` of `kind`, or the names that have no id.
    pub fn resolve(&self, kind: Kind, names: &[String]) -> Result<Vec<String>, Vec<String>> {
        let mut ids = Vec::with_capacity(names.len());
        let mut missing = Vec::new();
        for name in names {
            match self.get(kind, name) {
                Some(id) => ids.push(id.to_string()),
                None => missing.push(name.clone()),
            }
        }
        if missing.is_empty() {
            Ok(ids)
        } else {
            Err(missing)
        }
    }
}

/// A reference to another spec in a spec document, where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecRef {
    pub kind: Kind,
    pub name: String,
    /// The referenced name.
    pub pos: (u64, u64),
    /// The key of the list or field that holds the reference.
    pub field_pos: (u64, u64),
}

/// The string items of the list at `key`, as references to `kind`.
pub fn refs_in_list(node: &Node, key: &'static str, kind: Kind) -> Vec<SpecRef> {
    let field_pos = node.key_pos(&[Seg::Key(key)]);
    match node.get(&[Seg::Key(key)]).map(|n| &n.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(|n| match &n.value {
                Value::Str(s) => Some(SpecRef {
                    kind,
                    name: s.clone(),
                    pos: (n.line, n.column),
                    field_pos,
                }),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Outside names by `(class, name)` with every id each matched.
pub type Resolved = Vec<((&'static str, String), Vec<String>)>;

/// Looks up a spec of the tree by kind and name (for whole-tree checks).
pub type Lookup<'a> = dyn Fn(Kind, &str) -> Option<&'a Object> + 'a;

/// Everything about one kind of managed object. Implemented by the kind's normalised
/// model type; the engine reaches it only through the registry's dispatch.
pub trait Managed:
    Sized + Clone + PartialEq + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The spec document type (`deny_unknown_fields`; its JSON Schema is generated).
    type Spec: DeserializeOwned + Serialize + JsonSchema;

    /// The name in specs (`kind: NAME`), on the command line and in output.
    const NAME: &'static str;
    /// The committed JSON Schema file of this kind.
    const SCHEMA_FILE: &'static str;
    /// The prefix of imported file names.
    const FILE_STEM: &'static str;
    /// The kinds this kind refers to by name: written before it, deleted after it.
    const REFERS_TO: &'static [Kind] = &[];
    /// Whether objects are published after a write.
    const PUBLISHABLE: bool = false;
    /// Whether the list endpoint returns whole bodies (no GET per object needed).
    const LIST_HAS_BODIES: bool = false;
    /// One object per org that always exists (org settings): never deleted, never an
    /// orphan, and writing it is no takeover.
    const SINGLETON: bool = false;
    /// Genesys has no update for the kind: an update is a delete and a create, and
    /// plans say so. The executor deletes (an audited write of its own), then calls
    /// `put` with the deleted id, which creates anew.
    const REPLACES: bool = false;
    /// Names are unique only within a scope (a topic's dialect): an object's identity
    /// is its name, or `name (scope)` when another scope has the same name
    /// ([`qualify`]; see `identity`).
    const SCOPED: bool = false;

    // ---- specs ----------------------------------------------------------------------

    /// Per-document validation; reports through `ctx` and never stops early.
    fn validate(ctx: &mut Ctx<'_>, spec: &Self::Spec);
    /// The spec's `renamedFrom`.
    fn renamed_from(spec: &Self::Spec) -> Option<String>;
    /// The normalised object a valid spec describes.
    fn from_spec(spec: Self::Spec) -> Self;
    /// The spec that describes this object, as `import` writes it: defaults that
    /// equal the object's own values left out.
    fn to_spec(&self) -> Self::Spec;
    /// The references to other specs that a document makes, with their locations.
    fn spec_refs(_node: &Node) -> Vec<SpecRef> {
        Vec::new()
    }
    /// Checks that need the other specs of the tree (references are checked by the
    /// engine; this is for limits that depend on what they refer to).
    fn check_tree(&self, _entry: &Entry, _lookup: &Lookup<'_>, _diags: &mut Vec<Diagnostic>) {}
    /// Checks over all the specs of the kind at once (limits per dialect).
    fn check_kind(_entries: &[&Entry], _diags: &mut Vec<Diagnostic>) {}

    // ---- the model ------------------------------------------------------------------

    fn name(&self) -> &str;
    fn set_name(&mut self, name: &str);
    /// The scope names are unique in, for [`Managed::SCOPED`] kinds.
    fn scope(&self) -> Option<&str> {
        None
    }
    /// The name as Genesys holds it, without the scope.
    fn base_name(&self) -> &str {
        self.name()
    }
    /// Makes the identity `name (scope)` (or the plain name again).
    fn set_qualified(&mut self, _qualified: bool) {}
    fn published(&self) -> bool {
        false
    }
    fn set_published(&mut self, _published: bool) {}
    /// Canonical form: defaults filled, order-insensitive lists sorted. Idempotent.
    fn normalized(self) -> Self;
    /// The objects this one refers to by name.
    fn refs(&self) -> Vec<(Kind, &str)> {
        Vec::new()
    }
    /// Renames references: `rename(kind, name)` gives the new name, if any.
    fn rename_refs(&mut self, _rename: &dyn Fn(Kind, &str) -> Option<String>) {}
    /// Objects outside speechops that the object names (`("queue", name)`), resolved
    /// to ids at plan time by [`Managed::resolve_external`].
    fn external_refs(&self) -> Vec<(&'static str, &str)> {
        Vec::new()
    }
    /// Whether the org's body must be read even when the lockfile proves the object
    /// unchanged (parts written through other endpoints that do not move its
    /// `dateModified`, such as a program's mappings).
    fn always_read(&self) -> bool {
        false
    }
    /// The classes of outside objects (`queue`, `flow`) the object manages, named or
    /// not (`queues: []` manages queues).
    fn external_classes(&self) -> Vec<&'static str> {
        Vec::new()
    }
    /// Where a spec document writes its outside names: `(class, name, position)`.
    fn spec_external_refs(_node: &Node) -> Vec<(&'static str, String, (u64, u64))> {
        Vec::new()
    }
    /// Renames the outside names (ids read from the org become names).
    fn rename_external(&mut self, _rename: &dyn Fn(&str, &str) -> Option<String>) {}
    /// The ids of outside objects by exact name: every match of each name (none or
    /// several make the plan fail).
    fn resolve_external(
        _client: &Client,
        _names: Vec<(&'static str, String)>,
    ) -> impl Future<Output = ApiResult<Resolved>> + Send {
        async { Ok(Vec::new()) }
    }

    /// The names of outside objects read back by id: `((class, id), name)` for each
    /// found.
    fn name_external(
        _client: &Client,
        _ids: Vec<(&'static str, String)>,
    ) -> impl Future<Output = ApiResult<Vec<((&'static str, String), String)>>> + Send {
        async { Ok(Vec::new()) }
    }

    /// The remote object as `desired` sees it: for kinds whose specs may leave fields
    /// unmanaged, those fields take the desired (absent) value, so they never show as
    /// a change.
    fn seen_by(&self, _desired: &Self) -> Self {
        self.clone()
    }

    // ---- the org --------------------------------------------------------------------

    /// Every object of the kind, all pages.
    fn list(client: &Client) -> impl Future<Output = ApiResult<Vec<Listed>>> + Send;
    /// One object in full (only called when the list does not carry bodies).
    fn get(client: &Client, id: &str) -> impl Future<Output = ApiResult<Fetched>> + Send;
    /// Creates (`id` None) or replaces the object. `previous` is the body the org
    /// held, whose server-kept marks the write keeps; `ids` resolves references.
    fn put(
        &self,
        client: &Client,
        id: Option<&str>,
        previous: Option<&Self>,
        ids: &Ids,
    ) -> impl Future<Output = ApiResult<Put>> + Send;
    /// Deletes the object; one already gone is a success.
    fn delete(client: &Client, id: &str) -> impl Future<Output = ApiResult<Written<()>>> + Send;
    /// Deletes an object this run created, to roll the run back (by default as any
    /// delete).
    fn undo_create(
        client: &Client,
        id: &str,
    ) -> impl Future<Output = ApiResult<Written<()>>> + Send {
        Self::delete(client, id)
    }
    /// Publishes these objects (only called for publishable kinds).
    fn publish(
        _client: &Client,
        _ids: &[String],
    ) -> impl Future<Output = ApiResult<Written<PublishJob>>> + Send {
        async { Ok(genesys::client::nothing_to_publish()) }
    }
    /// Test support: reorders the order-insensitive lists, which normalising must undo.
    #[cfg(test)]
    fn scramble(&mut self) {}

    /// Test support: a valid, normalised object with this name and tags; `flag`
    /// flips one boolean of its content.
    #[cfg(test)]
    fn example(name: String, tags: Vec<String>, flag: bool) -> Self;

    /// Runs the kind's response decoders over arbitrary bytes, for the fuzz driver:
    /// how many decoded. Must never panic.
    fn decode_wire(body: &[u8]) -> usize;
}

/// A kind's objects as `import` reads them: the list, then a GET per object unless
/// the list carries bodies.
async fn read_all<M: Managed>(client: &Client) -> ApiResult<Vec<Fetched>> {
    let listed = M::list(client).await?;
    if M::LIST_HAS_BODIES {
        return Ok(listed
            .into_iter()
            .filter_map(|l| {
                Some(Fetched {
                    body: l.body?,
                    id: l.id,
                    published: l.published,
                    date_modified: l.date_modified,
                    refs: l.refs,
                    held_by: Vec::new(),
                })
            })
            .collect());
    }
    let mut tasks = tokio::task::JoinSet::new();
    for l in listed {
        let client = client.clone();
        tasks.spawn(async move { M::get(&client, &l.id).await });
    }
    let mut out = Vec::new();
    while let Some(res) = tasks.join_next().await {
        out.push(res.map_err(|e| task_failed(M::NAME, e))??);
    }
    Ok(out)
}

/// Names the references a kind could only give by id (a category's topics, the
/// settings' default program) from the other kinds' lists: in the refs and in the
/// body, so the body compares with specs, which name them.
pub fn name_refs(
    body: Object,
    mut refs: Vec<RemoteRef>,
    names: &BTreeMap<(Kind, String), String>,
) -> (Object, Vec<RemoteRef>) {
    let mut renamed: Vec<(Kind, String, String)> = Vec::new();
    for r in &mut refs {
        if r.name == r.id
            && let Some(name) = names.get(&(r.kind, r.id.clone()))
        {
            renamed.push((r.kind, r.id.clone(), name.clone()));
            r.name = name.clone();
        }
    }
    if renamed.is_empty() {
        return (body, refs);
    }
    let body = body.with_refs_renamed(&|kind, name| {
        renamed
            .iter()
            .find(|(k, id, _)| *k == kind && id == name)
            .map(|(_, _, n)| n.clone())
    });
    (body, refs)
}

/// Gives outside objects read back by id (a program's queues and flows) their names,
/// where `known` (the names the specs use) does not: one listing per class, only when
/// some id is unknown.
/// Only ids of `classes` (those some spec manages) are looked up, best effort: an org
/// that refuses the listing keeps showing ids. Returns every `(class, id) → name` it
/// used.
pub async fn name_external_ids(
    client: &Client,
    objects: &mut [Object],
    known: &BTreeMap<(String, String), String>,
    classes: &BTreeSet<&'static str>,
) -> BTreeMap<(String, String), String> {
    let mut unknown: BTreeMap<Kind, BTreeSet<(&'static str, String)>> = BTreeMap::new();
    for o in objects.iter() {
        for (class, id) in o.external_refs() {
            if classes.contains(class) && !known.contains_key(&(class.to_string(), id.to_string()))
            {
                unknown
                    .entry(o.kind())
                    .or_default()
                    .insert((class, id.to_string()));
            }
        }
    }
    let mut names = known.clone();
    for (kind, ids) in unknown {
        match kind.name_external(client, ids.into_iter().collect()).await {
            Ok(found) => {
                for ((class, id), name) in found {
                    names.insert((class.to_string(), id), name);
                }
            }
            Err(e) => tracing::warn!("cannot name the queues and flows a {kind} uses: {e}"),
        }
    }
    for o in objects.iter_mut() {
        if !o.external_refs().is_empty() {
            *o = o.with_external_renamed(&|class, id| {
                names.get(&(class.to_string(), id.to_string())).cloned()
            });
        }
    }
    names
}

/// Records, on every object, what the org's other objects refer to it (a topic a
/// category uses; the program the settings name as default), besides what its own
/// endpoint reports (the programs a topic GET lists).
pub fn add_holders(objects: &mut [crate::diff::Remote]) {
    let mut held: BTreeMap<(Kind, String), Vec<RemoteRef>> = BTreeMap::new();
    for o in objects.iter() {
        for r in &o.refs {
            held.entry((r.kind, r.id.clone()))
                .or_default()
                .push(RemoteRef {
                    kind: o.kind,
                    id: o.id.clone(),
                    name: o.name.clone(),
                });
        }
    }
    for o in objects.iter_mut() {
        if let Some(holders) = held.remove(&(o.kind, o.id.clone())) {
            for h in holders {
                if !o.held_by.iter().any(|x| x.kind == h.kind && x.id == h.id) {
                    o.held_by.push(h);
                }
            }
            o.held_by
                .sort_by(|a, b| (a.kind, &a.name, &a.id).cmp(&(b.kind, &b.name, &b.id)));
        }
    }
}

/// A task that panicked or was cancelled, as an error naming the kind.
pub fn task_failed(kind: &str, e: tokio::task::JoinError) -> genesys::Error {
    genesys::Error::Transport {
        method: "GET".into(),
        path: format!("{kind} by id"),
        message: format!("task failed: {e}"),
    }
}

/// Kinds in write order: every kind after the kinds it refers to (a topological
/// sort of [`Managed::REFERS_TO`]; ties keep registry order). Deletes run in reverse.
pub fn write_order() -> Vec<Kind> {
    let mut out: Vec<Kind> = Vec::with_capacity(Kind::ALL.len());
    let mut placed: BTreeSet<Kind> = BTreeSet::new();
    while out.len() < Kind::ALL.len() {
        let next = Kind::ALL.iter().copied().find(|k| {
            !placed.contains(k) && k.refers_to().iter().all(|r| placed.contains(r) || r == k)
        });
        // A reference cycle cannot be ordered: keep registry order for the rest (the
        // registry test rules cycles out).
        let next = next.or_else(|| Kind::ALL.iter().copied().find(|k| !placed.contains(k)));
        let Some(next) = next else { break };
        placed.insert(next);
        out.push(next);
    }
    out
}

/// The kinds that refer to `kind`.
pub fn referrers(kind: Kind) -> Vec<Kind> {
    Kind::ALL
        .iter()
        .copied()
        .filter(|k| k.refers_to().contains(&kind))
        .collect()
}

/// A kind name for messages and codes: `Program` → `program`.
pub fn lower(kind: Kind) -> String {
    kind.as_str().to_ascii_lowercase()
}

/// Spec documents serialise with `kind` first.
#[derive(Serialize)]
struct Document<'a, S: Serialize> {
    kind: &'a str,
    #[serde(flatten)]
    spec: &'a S,
}

fn spec_document<M: Managed>(m: &M) -> String {
    serde_saphyr::to_string(&Document {
        kind: M::NAME,
        spec: &m.to_spec(),
    })
    .unwrap_or_default()
}

fn kind_schema<M: Managed>() -> schemars::Schema {
    schemars::schema_for!(M::Spec)
}

/// Defines [`Kind`], [`Object`] and the dispatch over the registered kinds.
macro_rules! registry {
    ($($variant:ident => $ty:ty),+ $(,)?) => {
        /// The type of a managed object.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Kind {
            $($variant),+
        }

        impl Kind {
            /// Every kind, in registry order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => <$ty as Managed>::NAME),+
                }
            }

            /// Parses a kind name as written in specs and on the command line
            /// (case-insensitive).
            pub fn parse(s: &str) -> Option<Kind> {
                Kind::ALL
                    .iter()
                    .copied()
                    .find(|k| k.as_str().eq_ignore_ascii_case(s))
            }

            /// The kind names, for help texts: `Topic, Program, …`.
            pub fn names() -> String {
                Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            }

            pub fn schema_file(self) -> &'static str {
                match self {
                    $(Kind::$variant => <$ty as Managed>::SCHEMA_FILE),+
                }
            }

            pub fn file_stem(self) -> &'static str {
                match self {
                    $(Kind::$variant => <$ty as Managed>::FILE_STEM),+
                }
            }

            pub fn refers_to(self) -> &'static [Kind] {
                match self {
                    $(Kind::$variant => <$ty as Managed>::REFERS_TO),+
                }
            }

            pub fn publishable(self) -> bool {
                match self {
                    $(Kind::$variant => <$ty as Managed>::PUBLISHABLE),+
                }
            }

            pub fn singleton(self) -> bool {
                match self {
                    $(Kind::$variant => <$ty as Managed>::SINGLETON),+
                }
            }

            pub fn replaces(self) -> bool {
                match self {
                    $(Kind::$variant => <$ty as Managed>::REPLACES),+
                }
            }

            pub fn scoped(self) -> bool {
                match self {
                    $(Kind::$variant => <$ty as Managed>::SCOPED),+
                }
            }

            pub fn list_has_bodies(self) -> bool {
                match self {
                    $(Kind::$variant => <$ty as Managed>::LIST_HAS_BODIES),+
                }
            }

            /// Deserialises and validates one spec document of this kind.
            pub fn load(
                self,
                ctx: &mut Ctx<'_>,
                doc_pos: (u64, u64),
            ) -> Option<(Object, Option<String>)> {
                match self {
                    $(Kind::$variant => {
                        let (spec, patched): (<$ty as Managed>::Spec, _) =
                            crate::spec::load::deserialize(ctx, doc_pos)?;
                        <$ty>::validate(&mut ctx.with_node(patched.as_ref()), &spec);
                        let renamed = <$ty>::renamed_from(&spec);
                        Some((Object::$variant(<$ty>::from_spec(spec)), renamed))
                    })+
                }
            }

            /// The references a spec document of this kind makes.
            pub fn spec_refs(self, node: &Node) -> Vec<SpecRef> {
                match self {
                    $(Kind::$variant => <$ty>::spec_refs(node)),+
                }
            }

            /// The kind's checks over all its specs.
            pub fn check_kind(self, entries: &[&Entry], diags: &mut Vec<Diagnostic>) {
                match self {
                    $(Kind::$variant => <$ty>::check_kind(entries, diags)),+
                }
            }

            /// Where a spec document of this kind writes its outside names.
            pub fn spec_external_refs(self, node: &Node) -> Vec<(&'static str, String, (u64, u64))> {
                match self {
                    $(Kind::$variant => <$ty>::spec_external_refs(node)),+
                }
            }

            /// The JSON Schema of this kind's spec documents (without `kind`).
            pub fn schema(self) -> schemars::Schema {
                match self {
                    $(Kind::$variant => kind_schema::<$ty>()),+
                }
            }

            pub async fn list(self, client: &Client) -> ApiResult<Vec<Listed>> {
                match self {
                    $(Kind::$variant => <$ty>::list(client).await),+
                }
            }

            pub async fn get(self, client: &Client, id: &str) -> ApiResult<Fetched> {
                match self {
                    $(Kind::$variant => <$ty>::get(client, id).await),+
                }
            }

            /// Every object of the kind with its body (for `import`).
            pub async fn read_all(self, client: &Client) -> ApiResult<Vec<Fetched>> {
                match self {
                    $(Kind::$variant => read_all::<$ty>(client).await),+
                }
            }

            pub async fn delete(self, client: &Client, id: &str) -> ApiResult<Written<()>> {
                match self {
                    $(Kind::$variant => <$ty>::delete(client, id).await),+
                }
            }

            /// Deletes an object this run created (a rollback).
            pub async fn undo_create(self, client: &Client, id: &str) -> ApiResult<Written<()>> {
                match self {
                    $(Kind::$variant => <$ty>::undo_create(client, id).await),+
                }
            }

            pub async fn publish(
                self,
                client: &Client,
                ids: &[String],
            ) -> ApiResult<Written<PublishJob>> {
                if ids.is_empty() {
                    return Ok(genesys::client::nothing_to_publish());
                }
                match self {
                    $(Kind::$variant => <$ty>::publish(client, ids).await),+
                }
            }

            /// Test support: see [`Managed::example`].
            #[cfg(test)]
            pub fn example(self, name: String, tags: Vec<String>, flag: bool) -> Object {
                match self {
                    $(Kind::$variant => Object::$variant(<$ty>::example(name, tags, flag))),+
                }
            }

            /// Looks up the outside names the kind's specs use.
            pub async fn resolve_external(
                self,
                client: &Client,
                names: Vec<(&'static str, String)>,
            ) -> ApiResult<Resolved> {
                match self {
                    $(Kind::$variant => <$ty>::resolve_external(client, names).await),+
                }
            }

            /// Names outside objects read back by id.
            pub async fn name_external(
                self,
                client: &Client,
                ids: Vec<(&'static str, String)>,
            ) -> ApiResult<Vec<((&'static str, String), String)>> {
                match self {
                    $(Kind::$variant => <$ty>::name_external(client, ids).await),+
                }
            }

            /// Every kind's response decoders over one body (fuzzing).
            pub fn decode_wire(body: &[u8]) -> usize {
                0 $(+ <$ty>::decode_wire(body))+
            }
        }

        /// Any managed object, normalised.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum Object {
            $($variant($ty)),+
        }

        $(impl From<$ty> for Object {
            fn from(m: $ty) -> Object {
                Object::$variant(m)
            }
        })+

        impl Object {
            pub fn kind(&self) -> Kind {
                match self {
                    $(Object::$variant(_) => Kind::$variant),+
                }
            }

            pub fn name(&self) -> &str {
                match self {
                    $(Object::$variant(m) => m.name()),+
                }
            }

            /// See [`Managed::scope`].
            pub fn scope(&self) -> Option<&str> {
                match self {
                    $(Object::$variant(m) => m.scope()),+
                }
            }

            /// See [`Managed::base_name`].
            pub fn base_name(&self) -> &str {
                match self {
                    $(Object::$variant(m) => m.base_name()),+
                }
            }

            /// See [`Managed::set_qualified`].
            pub fn set_qualified(&mut self, qualified: bool) {
                match self {
                    $(Object::$variant(m) => m.set_qualified(qualified)),+
                }
            }

            /// Whether the object should be published after a write.
            pub fn wants_published(&self) -> bool {
                match self {
                    $(Object::$variant(m) => m.published()),+
                }
            }

            pub fn set_published(&mut self, published: bool) {
                match self {
                    $(Object::$variant(m) => m.set_published(published)),+
                }
            }

            /// Returns the object in canonical form: defaults filled, lists sorted.
            /// Idempotent: `x.normalized().normalized() == x.normalized()`.
            pub fn normalized(self) -> Object {
                match self {
                    $(Object::$variant(m) => Object::$variant(m.normalized())),+
                }
            }

            /// The same object under another name.
            pub fn renamed(&self, name: &str) -> Object {
                let mut o = self.clone();
                match &mut o {
                    $(Object::$variant(m) => m.set_name(name)),+
                }
                o
            }

            /// The objects this one refers to by name.
            pub fn refs(&self) -> Vec<(Kind, &str)> {
                match self {
                    $(Object::$variant(m) => m.refs()),+
                }
            }

            /// See [`Managed::always_read`].
            pub fn always_read(&self) -> bool {
                match self {
                    $(Object::$variant(m) => m.always_read()),+
                }
            }

            /// See [`Managed::external_classes`].
            pub fn external_classes(&self) -> Vec<&'static str> {
                match self {
                    $(Object::$variant(m) => m.external_classes()),+
                }
            }

            /// The outside objects this one names.
            pub fn external_refs(&self) -> Vec<(&'static str, &str)> {
                match self {
                    $(Object::$variant(m) => m.external_refs()),+
                }
            }

            /// The same object with its outside names renamed (and normalised again).
            pub fn with_external_renamed(&self, rename: &dyn Fn(&str, &str) -> Option<String>) -> Object {
                match self {
                    $(Object::$variant(m) => {
                        let mut m = m.clone();
                        m.rename_external(rename);
                        Object::$variant(m.normalized())
                    })+
                }
            }

            /// The same object with its references renamed (and normalised again).
            pub fn with_refs_renamed(&self, rename: &dyn Fn(Kind, &str) -> Option<String>) -> Object {
                match self {
                    $(Object::$variant(m) => {
                        let mut m = m.clone();
                        m.rename_refs(rename);
                        Object::$variant(m.normalized())
                    })+
                }
            }

            /// This (remote) object as `desired` sees it (see [`Managed::seen_by`]).
            pub fn seen_by(&self, desired: &Object) -> Object {
                match (self, desired) {
                    $((Object::$variant(m), Object::$variant(d)) => Object::$variant(m.seen_by(d)),)+
                    _ => self.clone(),
                }
            }

            /// The kind's whole-tree checks for this spec.
            pub fn check_tree(&self, entry: &Entry, lookup: &Lookup<'_>, diags: &mut Vec<Diagnostic>) {
                match self {
                    $(Object::$variant(m) => m.check_tree(entry, lookup, diags)),+
                }
            }

            /// Writes the object: creates it (`id` None) or replaces it.
            pub async fn put(
                &self,
                client: &Client,
                id: Option<&str>,
                previous: Option<&Object>,
                ids: &Ids,
            ) -> ApiResult<Put> {
                match self {
                    $(Object::$variant(m) => {
                        let previous = match previous {
                            Some(Object::$variant(p)) => Some(p),
                            _ => None,
                        };
                        m.put(client, id, previous, ids).await
                    })+
                }
            }

            /// Test support: reorders the order-insensitive lists.
            #[cfg(test)]
            pub fn scramble(&mut self) {
                match self {
                    $(Object::$variant(m) => m.scramble()),+
                }
            }

            /// The spec file text that describes this object (`import`).
            pub fn spec_yaml(&self) -> String {
                match self {
                    $(Object::$variant(m) => spec_document(m)),+
                }
            }
        }

        /// Any spec document, discriminated by `kind` (the combined schema).
        #[derive(JsonSchema)]
        #[serde(tag = "kind")]
        #[allow(dead_code)]
        pub(crate) enum AnySpec {
            $($variant(<$ty as Managed>::Spec)),+
        }
    };
}

// The registry line: one entry per kind, in registry order.
registry! {
    Topic => topic::Topic,
    Program => program::Program,
    SpeechRule => speech_rule::SpeechRule,
    Category => category::Category,
    SentimentFeedback => sentiment_feedback::SentimentFeedback,
    DictionaryFeedback => dictionary_feedback::DictionaryFeedback,
    SpeechAnalyticsSettings => speech_analytics_settings::Settings,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Object {
    /// The same object with `published` cleared: the content that an update writes.
    /// Publication state is compared separately (it becomes a `publish` action).
    pub fn content(&self) -> Object {
        let mut o = self.clone();
        o.set_published(false);
        o
    }

    /// Whether the two have the same content (`published` aside), without copying
    /// either unless their publication differs.
    pub fn same_content(&self, other: &Object) -> bool {
        if self.wants_published() == other.wants_published() {
            self == other
        } else {
            self.content() == other.content()
        }
    }

    /// Canonical JSON: struct fields in declaration order, lists normalised.
    pub fn canonical_json(&self) -> String {
        // Serialising plain structs of strings, bools, finite floats and lists cannot fail.
        serde_json::to_string(&self.clone().normalized()).unwrap_or_default()
    }

    /// sha256 (hex) of the canonical JSON.
    pub fn sha256(&self) -> String {
        crate::model::sha256_hex(self.canonical_json().as_bytes())
    }

    /// The normalised object as YAML.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(&self.clone().normalized()).unwrap_or_default()
    }

    /// The YAML shown in plan diffs: the normalised content without `published`,
    /// which is not content (it becomes a `publish` action).
    pub fn content_yaml(&self) -> String {
        serde_saphyr::to_string(&self.content_value()).unwrap_or_default()
    }

    /// The normalised content as JSON, without `published` (plans' change words).
    pub fn content_value(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self.clone().normalized()).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.remove("published");
        }
        value
    }
}

/// Helpers the kind modules share.
pub(crate) fn default_true() -> bool {
    true
}

pub(crate) fn is_true(b: &bool) -> bool {
    *b
}

pub(crate) fn sort_dedup(v: &mut Vec<String>) {
    v.sort();
    v.dedup();
}

/// A closed set of strings as a spec enum: (de)serialised as its text, listed in the
/// JSON Schema.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? } $(default $default:ident)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }
        impl $name {
            pub const ALL: &'static [&'static str] = &[$($text),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// The value with this text, if any.
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
        $(impl Default for $name { fn default() -> Self { $name::$default } })?
    };
}
pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_comes_after_the_kinds_it_refers_to() {
        let order = write_order();
        assert_eq!(order.len(), Kind::ALL.len());
        for (i, k) in order.iter().enumerate() {
            for r in k.refers_to() {
                let j = order.iter().position(|x| x == r);
                assert!(j.is_some_and(|j| j < i), "{k} refers to {r}: {order:?}");
            }
        }
    }

    #[test]
    fn kind_names_parse_case_insensitively_and_files_are_distinct() {
        let mut files = BTreeSet::new();
        let mut stems = BTreeSet::new();
        for k in Kind::ALL {
            assert_eq!(Kind::parse(&k.as_str().to_lowercase()), Some(*k));
            assert!(files.insert(k.schema_file()), "{k}");
            assert!(stems.insert(k.file_stem()), "{k}");
        }
        assert_eq!(Kind::parse("nope"), None);
    }
}

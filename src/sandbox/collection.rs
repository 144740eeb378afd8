//! The generic collection every sandbox kind is served by: records with the fields
//! every Genesys object has (id, `dateModified`, `modifiedBy`, publication) plus the
//! kind's own fields; create / read / replace / delete; listing with either paging
//! style (numbered `pageNumber`, or a `nextPage` cursor); a 409 on a duplicate
//! identity; publish jobs; persistence. A kind (`kinds/<kind>.rs`) is a [`Resource`]:
//! its request validation, its response shape and the checks that involve other
//! kinds.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::check;
use super::error::{ApiError, ErrorDetail};
use super::ids;
use super::persist;
use super::store::Store;

/// One stored object: what every kind has, and the kind's own fields (as the kind's
/// validation produced them; flattened on disk).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rec {
    pub id: String,
    pub seq: u64,
    pub date_modified_ms: i64,
    pub modified_by: String,
    /// When and by whom it was created (absent in folders written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_created_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Absent for kinds that are not published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_published_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_by: Option<String>,
    /// What the last publish made live ([`Publish::snapshot`]): for a program, the
    /// topic versions it searches for (Genesys: the versions of its last publish).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_snapshot: Option<Value>,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl Rec {
    /// A string field, or "".
    pub fn str(&self, key: &str) -> &str {
        self.fields.get(key).and_then(Value::as_str).unwrap_or("")
    }

    /// A list-of-strings field.
    pub fn strings(&self, key: &str) -> Vec<&str> {
        match self.fields.get(key) {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    pub fn is_published(&self) -> bool {
        self.published == Some(true)
    }

    /// `dateCreated` (the first `dateModified` for records from before it was kept).
    pub fn date_created(&self) -> String {
        ids::format_ms(self.date_created_ms.unwrap_or(self.date_modified_ms))
    }

    /// `createdBy`.
    pub fn created_by(&self) -> Value {
        by(self.created_by.as_deref().unwrap_or(&self.modified_by))
    }
}

/// A validated request body: the fields to store, and request-only values that
/// act on other objects (a topic's `programIds`).
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub fields: Map<String, Value>,
    pub extra: Map<String, Value>,
}

/// How a kind's list pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `pageSize` + `pageNumber`, answered with `selfUri` / `nextUri` (SDK listings);
    /// with `pageNumber` too where the SDK's listing has it.
    Numbered {
        default_size: usize,
        page_number: bool,
    },
    /// `pageSize` + `pageNumber`, answered with `pageNumber` (the tutorial's API).
    Plain { default_size: usize },
    /// `pageSize` + `nextPage` cursor, the next page at `nextUri`.
    Cursor { default_size: usize },
    /// No paging: every entity in one `{entities}`.
    Unpaged,
}

/// What a delete answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReply {
    NoContent,
    /// 200 with `{id, selfUri}` (SDK `DeleteProgramResponse`).
    Reference,
}

/// Publishing of a kind: the job body's id list and the job's member list.
#[derive(Debug, Clone, Copy)]
pub struct Publish {
    /// The job's kind as persisted (`Topics`).
    pub job_kind: &'static str,
    /// `topicIds`.
    pub key: &'static str,
    /// What a completed publish makes live, kept on the record until the next one.
    pub snapshot: fn(&Store, &Rec) -> Value,
}

/// A parsed list query.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub page_size: usize,
    pub page_number: usize,
    pub cursor: Option<String>,
    pub name: Option<String>,
    pub ids: Option<Vec<String>>,
    pub published_only: bool,
    pub sort_desc: bool,
    pub sort_by: Option<String>,
    /// Kind-specific list filters (`dialects`), as given.
    pub lists: Vec<(String, Vec<String>)>,
    /// Filter and sort parameters as given, echoed into `selfUri`/`nextUri`.
    pub echo: Vec<(String, String)>,
}

/// Query parameters as `(key, value)` pairs.
pub type Pairs = [(String, String)];

/// Effects of a delete on other objects, and what its answer adds.
pub type AfterDelete = fn(&mut Store, &Rec, &str) -> Result<Map<String, Value>, ApiError>;

/// One kind the sandbox serves.
pub struct Resource {
    /// In error messages: `Topic 1 was not found`.
    pub label: &'static str,
    /// The folder of its records, and the last segment of its path.
    pub dir: &'static str,
    /// The collection path.
    pub path: &'static str,
    pub paging: Paging,
    /// The largest `pageSize` accepted.
    pub max_page_size: usize,
    /// The status of a successful create (200, or 201 where the SDK says so).
    pub create_status: u16,
    /// One object per org at the collection path itself (`GET`, `PUT`, `PATCH`; no
    /// ids, no list, no delete), starting as `initial` gives it.
    pub singleton: bool,
    pub initial: fn() -> Map<String, Value>,
    /// Whether the kind has `GET /{id}` and `PUT /{id}` (sentiment feedback has
    /// neither).
    pub get_one: bool,
    pub put: bool,
    /// Whether `DELETE` of the collection path deletes every object (sentiment
    /// feedback has it; speechops never calls it).
    pub delete_all: bool,
    pub publish: Option<Publish>,
    pub delete_reply: DeleteReply,
    /// Boolean query parameters a delete accepts (`forceDelete`); none: the query
    /// is not read.
    pub delete_params: &'static [&'static str],
    /// List parameters besides paging: any of `name`, `ids`, `state`, `sortBy`,
    /// `sortOrder`, and the kind's own (checked by `refine_query`).
    pub list_params: &'static [&'static str],
    /// Accepted `sortBy` values.
    pub sort_by: &'static [&'static str],
    /// Validates a request body.
    pub parse: fn(&[u8]) -> Result<Input, ApiError>,
    /// The identity of stored fields (a name; or a composite such as dialect+term).
    pub identity: fn(&Map<String, Value>) -> String,
    /// The 409 message for a duplicate identity.
    pub conflict: fn(&str) -> String,
    /// Checks that involve other objects (references exist, limits).
    pub check: fn(&Store, &Input, Option<&str>) -> Result<(), ApiError>,
    /// Effects on other objects after a write.
    pub after_write: fn(&mut Store, &str, &Input, &str) -> Result<(), ApiError>,
    /// Refuses a delete (an object still in use); the flag is a `true` delete
    /// parameter (`forceDelete`).
    pub before_delete: fn(&Store, &str, bool) -> Result<(), ApiError>,
    /// Effects on other objects after a delete (given the deleted record); returns
    /// what the delete's answer says besides `id` and `selfUri` (a program's
    /// `topicLinksJob`).
    pub after_delete: AfterDelete,
    /// The response body: full (GET by id, writes) or as listed.
    pub render: fn(&Store, &Rec, bool) -> Value,
    /// Kind-specific list parameters into the query.
    pub refine_query: fn(&Pairs, &mut ListQuery) -> Result<(), ApiError>,
    /// Kind-specific list filters.
    pub matches: fn(&ListQuery, &Rec) -> bool,
    /// The leading sort key for `sortBy` values other than `name`.
    pub sort_prefix: fn(&ListQuery, &Rec) -> String,
    /// Brings records written by older sandboxes up to date.
    pub upgrade: fn(&mut Rec),
}

impl std::fmt::Debug for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource").field("dir", &self.dir).finish()
    }
}

/// Defaults for the hooks a kind does not need.
pub mod none {
    use super::*;

    pub fn check(_: &Store, _: &Input, _: Option<&str>) -> Result<(), ApiError> {
        Ok(())
    }
    pub fn after_write(_: &mut Store, _: &str, _: &Input, _: &str) -> Result<(), ApiError> {
        Ok(())
    }
    pub fn before_delete(_: &Store, _: &str, _: bool) -> Result<(), ApiError> {
        Ok(())
    }
    pub fn after_delete(_: &mut Store, _: &Rec, _: &str) -> Result<Map<String, Value>, ApiError> {
        Ok(Map::new())
    }
    pub fn refine_query(_: &[(String, String)], _: &mut ListQuery) -> Result<(), ApiError> {
        Ok(())
    }
    pub fn matches(_: &ListQuery, _: &Rec) -> bool {
        true
    }
    pub fn sort_prefix(_: &ListQuery, _: &Rec) -> String {
        String::new()
    }
    pub fn upgrade(_: &mut Rec) {}
    pub fn initial() -> Map<String, Value> {
        Map::new()
    }
    /// The `name` field.
    pub fn name_identity(fields: &Map<String, Value>) -> String {
        fields
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
}

/// A publish job. It completes on its second GET, deterministically, so tests and
/// clients see both states without timing games.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobRec {
    pub id: String,
    pub seq: u64,
    /// The publishing kind's `job_kind` (`Topics`).
    pub kind: String,
    pub ids: Vec<String>,
    /// `dateModified` of each object when the job was created: an object written
    /// since then is not the version this job publishes.
    pub versions: Vec<i64>,
    pub state: String,
    pub polls: u32,
    pub created_by: String,
    pub date_created_ms: i64,
    /// When the job last changed state (absent in folders from before it was kept).
    #[serde(default)]
    pub date_modified_ms: Option<i64>,
}

/// Renders `path?k=v&...` with every value URL-encoded.
pub fn uri(path: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return path.to_string();
    }
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencoding::encode(k), urlencoding::encode(v)))
        .collect();
    format!("{path}?{}", q.join("&"))
}

/// A `BaseTopicEntitiy` / `BaseProgramEntity` (with a name) or an
/// `AddressableEntityRef` (without).
pub fn entity_ref(id: &str, name: Option<&str>, r: &Resource) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    if let Some(n) = name {
        m.insert("name".into(), json!(n));
    }
    m.insert("selfUri".into(), json!(format!("{}/{id}", r.path)));
    Value::Object(m)
}

/// `modifiedBy` / `createdBy` / `publishedBy`.
pub fn by(actor: &str) -> Value {
    json!({"id": actor, "selfUri": format!("/api/v2/oauth/clients/{actor}")})
}

/// Genesys omits empty values in responses (SPEC 4); so does the sandbox.
pub fn put_nonempty_str(map: &mut Map<String, Value>, key: &str, v: &str) {
    if !v.is_empty() {
        map.insert(key.to_string(), json!(v));
    }
}

/// Inserts a list field, leaving it out when empty.
pub fn put_nonempty_list(map: &mut Map<String, Value>, key: &str, v: Option<&Value>) {
    if let Some(Value::Array(a)) = v
        && !a.is_empty()
    {
        map.insert(key.to_string(), Value::Array(a.clone()));
    }
}

/// Members of another kind (a program's topics, a topic's programs): the full body
/// lists them as `key: [{id, name, selfUri}]` sorted by name, the listing counts them
/// as `count_key`.
pub fn put_members(
    m: &mut Map<String, Value>,
    (key, count_key): (&str, &str),
    mut members: Vec<(&str, &str)>,
    r: &Resource,
    full: bool,
) {
    members.sort();
    if full {
        let list: Vec<Value> = members
            .iter()
            .map(|(name, id)| entity_ref(id, Some(name), r))
            .collect();
        m.insert(key.into(), Value::Array(list));
    } else {
        m.insert(count_key.into(), json!(members.len()));
    }
}

/// The fields every kind's response carries last: `modifiedBy`, `dateModified`, and
/// for published kinds (in full bodies) `publishedBy` / `datePublished`; `selfUri`.
pub fn put_common(m: &mut Map<String, Value>, r: &Resource, rec: &Rec, full: bool) {
    m.insert("modifiedBy".into(), by(&rec.modified_by));
    m.insert(
        "dateModified".into(),
        json!(ids::format_ms(rec.date_modified_ms)),
    );
    if full {
        if let Some(p) = &rec.published_by {
            m.insert("publishedBy".into(), by(p));
        }
        if let Some(ms) = rec.date_published_ms {
            m.insert("datePublished".into(), json!(ids::format_ms(ms)));
        }
    }
    m.insert("selfUri".into(), json!(format!("{}/{}", r.path, rec.id)));
}

/// The cursor of a cursor-paged list: base64 of the last item's sort key. The `+`
/// prefix and standard alphabet make a client that forgets to URL-encode it fail
/// loudly.
fn encode_cursor(key: &[String]) -> String {
    let payload = json!(key).to_string();
    format!(
        "p+{}",
        base64::engine::general_purpose::STANDARD.encode(payload)
    )
}

fn decode_cursor(cursor: &str) -> Option<Vec<String>> {
    let b64 = cursor.strip_prefix("p+")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    serde_json::from_slice::<Vec<String>>(&bytes).ok()
}

fn sort_key(r: &Resource, q: &ListQuery, rec: &Rec) -> Vec<String> {
    let identity = (r.identity)(&rec.fields);
    vec![
        (r.sort_prefix)(q, rec),
        identity.to_lowercase(),
        identity,
        rec.id.clone(),
    ]
}

impl Store {
    /// One page of a kind's list.
    /// One page of a kind's list, as a lagging org answers it (`--list-lag`): each
    /// first-page read counts down what a recent write hides or still shows.
    pub fn list_lagged(&mut self, r: &Resource, q: &ListQuery) -> Result<Value, ApiError> {
        if self.lag.reads == 0 {
            return self.list(r, q, &[], &[]);
        }
        let first_page = q.cursor.is_none() && q.page_number <= 1;
        let hidden: Vec<String> = self
            .records(r)
            .filter(|rec| self.lag.hidden.contains_key(&rec.id))
            .map(|rec| rec.id.clone())
            .collect();
        let ghosts: Vec<Rec> = self
            .lag
            .ghosts
            .iter()
            .filter(|(dir, _, _)| *dir == r.dir)
            .map(|(_, rec, _)| rec.clone())
            .collect();
        let page = self.list(r, q, &hidden, &ghosts);
        if first_page {
            for id in &hidden {
                if let Some(left) = self.lag.hidden.get_mut(id) {
                    *left = left.saturating_sub(1);
                }
            }
            self.lag.hidden.retain(|_, left| *left > 0);
            for (dir, _, left) in &mut self.lag.ghosts {
                if *dir == r.dir {
                    *left = left.saturating_sub(1);
                }
            }
            self.lag.ghosts.retain(|(_, _, left)| *left > 0);
        }
        page
    }

    /// One page of a kind's list, leaving out `hidden` ids and adding `ghosts`.
    fn list(
        &self,
        r: &Resource,
        q: &ListQuery,
        hidden: &[String],
        ghosts: &[Rec],
    ) -> Result<Value, ApiError> {
        let after = match &q.cursor {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                ApiError::bad_field("nextPage", "'nextPage' is not a cursor this API issued")
            })?),
        };
        let needle = q.name.as_ref().map(|n| n.to_lowercase());
        let mut hits: Vec<(Vec<String>, &Rec)> = self
            .records(r)
            .filter(|rec| !hidden.contains(&rec.id))
            .chain(ghosts)
            .filter(|rec| {
                needle
                    .as_ref()
                    .is_none_or(|n| (r.identity)(&rec.fields).to_lowercase().contains(n))
            })
            .filter(|rec| q.ids.as_ref().is_none_or(|ids| ids.contains(&rec.id)))
            .filter(|rec| !q.published_only || rec.is_published())
            .filter(|rec| (r.matches)(q, rec))
            .map(|rec| (sort_key(r, q, rec), rec))
            .collect();
        hits.sort_by(|a, b| a.0.cmp(&b.0));
        if q.sort_desc {
            hits.reverse();
        }
        let total = hits.len();
        let page_count = total.div_ceil(q.page_size.max(1));
        let render = |page: &[(Vec<String>, &Rec)]| -> Vec<Value> {
            page.iter()
                .map(|(_, rec)| (r.render)(self, rec, false))
                .collect()
        };
        match r.paging {
            Paging::Unpaged => Ok(json!({ "entities": render(&hits) })),
            Paging::Plain { .. } => {
                let start = (q.page_number - 1).saturating_mul(q.page_size);
                let page: Vec<_> = hits.into_iter().skip(start).take(q.page_size).collect();
                Ok(json!({
                    "entities": render(&page),
                    "pageSize": q.page_size,
                    "pageNumber": q.page_number,
                    "total": total,
                    "pageCount": page_count,
                }))
            }
            Paging::Numbered { page_number, .. } => {
                let start = (q.page_number - 1).saturating_mul(q.page_size);
                let page: Vec<_> = hits.into_iter().skip(start).take(q.page_size).collect();
                let page_uri = |n: usize| {
                    let mut pairs = vec![
                        ("pageSize".to_string(), q.page_size.to_string()),
                        ("pageNumber".to_string(), n.to_string()),
                    ];
                    pairs.extend(q.echo.iter().cloned());
                    uri(r.path, &pairs)
                };
                let mut body = json!({
                    "entities": render(&page),
                    "pageSize": q.page_size,
                    "total": total,
                    "pageCount": page_count,
                    "selfUri": page_uri(q.page_number),
                });
                if let Value::Object(m) = &mut body {
                    if q.page_number < page_count {
                        m.insert("nextUri".into(), json!(page_uri(q.page_number + 1)));
                    }
                    if page_number {
                        m.insert("pageNumber".into(), json!(q.page_number));
                        m.insert("firstUri".into(), json!(page_uri(1)));
                        m.insert("lastUri".into(), json!(page_uri(page_count.max(1))));
                        if q.page_number > 1 {
                            m.insert("previousUri".into(), json!(page_uri(q.page_number - 1)));
                        }
                    }
                }
                Ok(body)
            }
            Paging::Cursor { .. } => {
                let rest: Vec<_> = hits
                    .into_iter()
                    .filter(|(k, _)| {
                        after
                            .as_ref()
                            .is_none_or(|a| if q.sort_desc { k < a } else { k > a })
                    })
                    .collect();
                let page = &rest[..rest.len().min(q.page_size)];
                let page_uri = |cursor: Option<&str>| {
                    let mut pairs = vec![("pageSize".to_string(), q.page_size.to_string())];
                    if let Some(c) = cursor {
                        pairs.push(("nextPage".to_string(), c.to_string()));
                    }
                    pairs.extend(q.echo.iter().cloned());
                    uri(r.path, &pairs)
                };
                let mut body = json!({
                    "entities": render(page),
                    "pageSize": q.page_size,
                    "total": total,
                    "pageCount": page_count,
                    "selfUri": page_uri(q.cursor.as_deref()),
                });
                if rest.len() > page.len()
                    && let (Some((key, _)), Value::Object(m)) = (page.last(), &mut body)
                {
                    m.insert("nextUri".into(), json!(page_uri(Some(&encode_cursor(key)))));
                }
                Ok(body)
            }
        }
    }

    /// One object in full.
    pub fn get(&self, r: &Resource, id: &str) -> Result<Value, ApiError> {
        let rec = self
            .record(r, id)
            .ok_or_else(|| ApiError::not_found(r.label, id))?;
        Ok((r.render)(self, rec, true))
    }

    /// 409 when another object of the kind has this identity.
    fn unique(&self, r: &Resource, input: &Input, except: Option<&str>) -> Result<(), ApiError> {
        let identity = (r.identity)(&input.fields);
        match self
            .records(r)
            .find(|rec| Some(rec.id.as_str()) != except && (r.identity)(&rec.fields) == identity)
        {
            Some(other) => Err(ApiError::conflict(
                (r.conflict)(&identity),
                &other.id,
                &identity,
            )),
            None => Ok(()),
        }
    }

    /// Creates an object from a validated body.
    pub fn create(&mut self, r: &Resource, input: Input, actor: &str) -> Result<Value, ApiError> {
        self.unique(r, &input, None)?;
        let identity = (r.identity)(&input.fields);
        if let Some(left) = self.lag.reserved.get_mut(&(r.dir, identity.clone())) {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.lag.reserved.remove(&(r.dir, identity.clone()));
            }
            return Err(ApiError::conflict(
                format!("{} {identity} is still being deleted; try again", r.label),
                "",
                &identity,
            ));
        }
        (r.check)(self, &input, None)?;
        let (seq, id) = self.next_id();
        let now = self.tick();
        let rec = Rec {
            id: id.clone(),
            seq,
            date_modified_ms: now,
            modified_by: actor.to_string(),
            date_created_ms: Some(now),
            created_by: Some(actor.to_string()),
            published: r.publish.map(|_| false),
            date_published_ms: None,
            published_by: None,
            published_snapshot: None,
            fields: input.fields.clone(),
        };
        self.put(r, rec)?;
        (r.after_write)(self, &id, &input, actor)?;
        let name = input
            .fields
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        self.record_audit(r, "Create", &id, name.as_deref(), actor);
        if self.lag.reads > 0 {
            self.lag.hidden.insert(id.clone(), self.lag.reads);
        }
        self.get(r, &id)
    }

    /// Replaces an object's content; a replaced object is no longer published.
    pub fn update(
        &mut self,
        r: &Resource,
        id: &str,
        input: Input,
        actor: &str,
    ) -> Result<Value, ApiError> {
        let Some(old) = self.record(r, id).cloned() else {
            return Err(ApiError::not_found(r.label, id));
        };
        self.unique(r, &input, Some(id))?;
        (r.check)(self, &input, Some(id))?;
        // The body replaces every field it has; fields that sub-resources own (a
        // program's mappings) are kept.
        let mut fields = old.fields.clone();
        fields.extend(input.fields.clone());
        let rec = Rec {
            date_modified_ms: self.tick(),
            modified_by: actor.to_string(),
            published: r.publish.map(|_| false),
            fields,
            ..old
        };
        self.put(r, rec)?;
        (r.after_write)(self, id, &input, actor)?;
        let name = input
            .fields
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        self.record_audit(r, "Update", id, name.as_deref(), actor);
        self.get(r, id)
    }

    /// Deletes an object.
    pub fn delete(
        &mut self,
        r: &Resource,
        id: &str,
        force: bool,
        actor: &str,
    ) -> Result<Map<String, Value>, ApiError> {
        if self.record(r, id).is_none() {
            return Err(ApiError::not_found(r.label, id));
        }
        (r.before_delete)(self, id, force)?;
        self.remove(r.dir, id)?;
        match self.records_mut(r).remove(id) {
            Some(gone) => {
                self.lag.hidden.remove(id);
                if self.lag.reads > 0 {
                    self.lag.ghosts.push((r.dir, gone.clone(), self.lag.reads));
                }
                if self.lag.settle > 0 {
                    let identity = (r.identity)(&gone.fields);
                    self.lag.reserved.insert((r.dir, identity), self.lag.settle);
                }
                let name = gone
                    .fields
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                self.record_audit(r, "Delete", id, name.as_deref(), actor);
                (r.after_delete)(self, &gone, actor)
            }
            None => Ok(Map::new()),
        }
    }

    /// Deletes every object of the kind.
    pub fn delete_every(&mut self, r: &Resource) -> Result<(), ApiError> {
        let ids: Vec<String> = self.records(r).map(|rec| rec.id.clone()).collect();
        for id in ids {
            self.remove(r.dir, &id)?;
            self.records_mut(r).remove(&id);
        }
        Ok(())
    }

    // ----- singletons -----

    /// The id of a singleton's one record.
    const SINGLETON_ID: &'static str = "singleton";

    /// A singleton's record, as it starts when never written.
    fn singleton_rec(&self, r: &Resource) -> Rec {
        self.record(r, Self::SINGLETON_ID)
            .cloned()
            .unwrap_or_else(|| Rec {
                id: Self::SINGLETON_ID.to_string(),
                seq: 0,
                date_modified_ms: 0,
                modified_by: String::new(),
                date_created_ms: None,
                created_by: None,
                published: None,
                date_published_ms: None,
                published_by: None,
                published_snapshot: None,
                fields: (r.initial)(),
            })
    }

    /// A singleton's body.
    pub fn get_singleton(&self, r: &Resource) -> Value {
        (r.render)(self, &self.singleton_rec(r), true)
    }

    /// Writes a singleton: `merge` keeps the fields the body leaves out (PATCH),
    /// otherwise they return to their initial values (PUT).
    pub fn write_singleton(
        &mut self,
        r: &Resource,
        input: Input,
        merge: bool,
        actor: &str,
    ) -> Result<Value, ApiError> {
        (r.check)(self, &input, Some(Self::SINGLETON_ID))?;
        let mut rec = self.singleton_rec(r);
        if !merge {
            rec.fields = (r.initial)();
        }
        for (k, v) in input.fields {
            rec.fields.insert(k, v);
        }
        rec.date_modified_ms = self.tick();
        rec.modified_by = actor.to_string();
        self.put(r, rec)?;
        self.record_audit(r, "Update", Self::SINGLETON_ID, None, actor);
        Ok(self.get_singleton(r))
    }

    /// Changes stored fields of a singleton (effects of writes to other kinds).
    pub fn set_singleton_field(
        &mut self,
        r: &Resource,
        key: &str,
        value: Value,
    ) -> Result<(), ApiError> {
        let mut rec = self.singleton_rec(r);
        rec.fields.insert(key.to_string(), value);
        self.put(r, rec)
    }

    /// A stored field of a singleton.
    pub fn singleton_field(&self, r: &Resource, key: &str) -> Option<Value> {
        self.singleton_rec(r).fields.get(key).cloned()
    }

    // ----- publish jobs -----

    fn job_json(&self, r: &Resource, j: &JobRec) -> Value {
        let members: Vec<Value> = j
            .ids
            .iter()
            .map(|id| {
                let name = self.record(r, id).map(|rec| match rec.str("name") {
                    "" => (r.identity)(&rec.fields),
                    name => name.to_string(),
                });
                entity_ref(id, name.as_deref(), r)
            })
            .collect();
        json!({
            "id": j.id,
            "state": j.state,
            r.dir: members,
            "createdBy": by(&j.created_by),
            "dateCreated": ids::format_ms(j.date_created_ms),
            "dateModified": ids::format_ms(j.date_modified_ms.unwrap_or(j.date_created_ms)),
            "selfUri": format!("{}/publishjobs/{}", r.path, j.id),
        })
    }

    /// Starts a publish job for these objects of a publishable kind.
    pub fn create_job(
        &mut self,
        r: &Resource,
        body: &[u8],
        actor: &str,
    ) -> Result<Value, ApiError> {
        let Some(publish) = r.publish else {
            return Err(ApiError::not_found("Publish job route", r.path));
        };
        let field = publish.key;
        let mut seen = std::collections::BTreeSet::new();
        let ids_in: Vec<String> = check::publish_input(body, field)?
            .into_iter()
            .filter(|i| seen.insert(i.clone()))
            .collect();
        let mut versions = Vec::with_capacity(ids_in.len());
        for (i, id) in ids_in.iter().enumerate() {
            let Some(v) = self.record(r, id).map(|rec| rec.date_modified_ms) else {
                return Err(ApiError::bad_request(format!(
                    "'{field}[{i}]' names no existing object: {id}"
                ))
                .with_detail(ErrorDetail {
                    error_code: "invalid.value".into(),
                    field_name: Some(format!("{field}[{i}]")),
                    entity_id: Some(id.clone()),
                    entity_name: None,
                }));
            };
            versions.push(v);
        }
        let (seq, id) = self.next_id();
        let job = JobRec {
            id: id.clone(),
            seq,
            kind: publish.job_kind.to_string(),
            ids: ids_in,
            versions,
            state: "Running".into(),
            polls: 0,
            created_by: actor.to_string(),
            date_created_ms: ids::now_ms(),
            date_modified_ms: None,
        };
        self.save(persist::JOBS, &id, &job)?;
        let body = self.job_json(r, &job);
        self.jobs.insert(id, job);
        Ok(body)
    }

    /// Reads a job: the first read sees `Running`, the next completes it. Completion
    /// publishes every object still at the version the job captured (publishing does
    /// not change `dateModified`); a job whose object was deleted meanwhile `Failed`.
    pub fn poll_job(&mut self, r: &Resource, id: &str) -> Result<Value, ApiError> {
        let kind = r.publish.map(|p| p.job_kind).unwrap_or_default();
        let Some(mut job) = self.jobs.get(id).filter(|j| j.kind == kind).cloned() else {
            return Err(ApiError::not_found("Publish job", id));
        };
        if job.state == "Running" {
            job.polls += 1;
            if job.polls >= 2 {
                let now = ids::now_ms();
                let mut missing = false;
                for (oid, version) in job.ids.iter().zip(&job.versions) {
                    match self.record(r, oid).cloned() {
                        Some(mut rec) if rec.date_modified_ms == *version => {
                            if let Some(p) = r.publish {
                                rec.published_snapshot = Some((p.snapshot)(self, &rec));
                            }
                            rec.published = Some(true);
                            rec.date_published_ms = Some(now);
                            rec.published_by = Some(job.created_by.clone());
                            let name = rec
                                .fields
                                .get("name")
                                .and_then(Value::as_str)
                                .map(str::to_string);
                            self.put(r, rec)?;
                            self.record_audit(r, "Publish", oid, name.as_deref(), &job.created_by);
                        }
                        Some(_) => {}
                        None => missing = true,
                    }
                }
                job.state = if missing { "Failed" } else { "Completed" }.into();
                job.date_modified_ms = Some(now);
            }
            self.save(persist::JOBS, id, &job)?;
            self.jobs.insert(id.to_string(), job.clone());
        }
        Ok(self.job_json(r, &job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let key = vec!["".to_string(), "a name".to_string(), "id-1".to_string()];
        let c = encode_cursor(&key);
        assert!(c.contains('+'));
        assert_eq!(decode_cursor(&c), Some(key));
        assert_eq!(decode_cursor("p xyz"), None);
        assert_eq!(decode_cursor("zzz"), None);
    }

    #[test]
    fn old_records_load_with_their_fields_and_no_publication() {
        let rec: Rec = serde_json::from_value(json!({
            "id": "1", "seq": 3, "name": "R", "enabled": true,
            "dateModifiedMs": 5, "modifiedBy": "c"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rec.str("name"), "R");
        assert_eq!(rec.published, None);
        let back = serde_json::to_value(&rec).unwrap_or_default();
        assert_eq!(back["enabled"], json!(true));
        assert!(back.get("published").is_none());
    }
}

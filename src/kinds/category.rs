//! `Category`: a rule-based Speech & Text Analytics category (SDK 269
//! `CategoryRequest`, `StaCategory`, `Operand`, `/api/v2/speechandtextanalytics/
//! categories`). Its criteria tree refers to topics by name (`topic:`), sent as
//! `topicId`; so categories are written after topics and deleted before them, and a
//! topic a category uses cannot be deleted before the category changes. The list is
//! numbered (at most 25 per page) and carries whole bodies.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiResult, Fetched, Ids, Kind, Listed, Managed, Put, RemoteRef, SpecRef, string_enum};
use crate::genesys::client::{Named, STA, encode_segment};
use crate::genesys::types::NumberedPage;
use crate::genesys::{self, Client, Written};
use crate::spec::validate::{Ctx, common};
use crate::spec::yaml::{Node, Seg, Value};

/// Genesys's largest category page.
const PAGE_SIZE: u32 = 25;

string_enum!(
    /// Which interactions a category applies to.
    InteractionType { Voice = "Voice", Digital = "Digital", All = "All" }
);
string_enum!(
    /// What an operand is.
    OperandType { Term = "Term", Topic = "Topic", OperandGroup = "OperandGroup" }
);
string_enum!(
    /// Who says a term.
    ParticipantType { Internal = "Internal", External = "External", Both = "Both" }
);
string_enum!(
    /// How an operand combines with the next one.
    OperatorType { Or = "Or", And = "And", Near = "Near" }
);
string_enum!(
    /// Where a position is counted from.
    Direction { FromStart = "FromStart", FromEnd = "FromEnd" }
);

/// A category spec (SDK `CategoryRequest`, topics by name).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "Category")]
pub struct CategorySpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub interaction_type: InteractionType,
    pub criteria: Operand,
}

/// One node of a criteria tree (SDK `Operand`; `topic` names a Topic spec where the
/// API has `topicId`). Used as written in specs and, normalised, in the model.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Operand {
    #[serde(rename = "type")]
    pub kind: OperandType,
    /// The minimum number of occurrences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<u32>,
    /// A NOT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<Term>,
    /// A Topic spec of this repository (for `type: Topic`): a name, or `{name,
    /// dialect}` where topics of several dialects share the name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::topic::topic_ref::option"
    )]
    #[schemars(with = "Option<super::topic::TopicRef>")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_seconds_position: Option<Position>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digital_words_position: Option<Position>,
    /// Applied on this operand against the following one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infix_operator: Option<InfixOperator>,
    /// For `type: OperandGroup`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operands: Vec<Operand>,
}

/// SDK `Term`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Term {
    pub word: String,
    pub participant_type: ParticipantType,
}

/// SDK `OperandPosition`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Position {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_position_value: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_position_direction: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending_position_value: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending_position_direction: Option<Direction>,
}

/// SDK `InfixOperator`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InfixOperator {
    pub operator_type: OperatorType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_position: Option<OperatorPosition>,
}

/// SDK `OperatorPosition`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OperatorPosition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_seconds_position: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digital_words_position: Option<u32>,
}

impl Operand {
    /// Every operand of the tree, depth first.
    fn walk<'a>(&'a self, out: &mut Vec<&'a Operand>) {
        out.push(self);
        for o in &self.operands {
            o.walk(out);
        }
    }

    fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Operand)) {
        f(self);
        for o in &mut self.operands {
            o.walk_mut(f);
        }
    }
}

/// Each operand has what its type needs: a term, a topic, or operands.
fn check_operand(ctx: &mut Ctx<'_>, o: &Operand, path: &mut Vec<Seg<'static>>) {
    let pos = |ctx: &Ctx<'_>, path: &[Seg<'static>]| ctx.pos(path);
    match o.kind {
        OperandType::Term => match &o.term {
            None => ctx.error(
                "category.term-missing",
                pos(ctx, path),
                "an operand of type Term needs `term: {word, participantType}`".into(),
                None,
            ),
            Some(t) if t.word.trim().is_empty() => {
                path.extend([Seg::Key("term"), Seg::Key("word")]);
                ctx.error(
                    "category.term-empty",
                    pos(ctx, path),
                    "`word` must not be empty".into(),
                    None,
                );
                path.truncate(path.len() - 2);
            }
            Some(_) => {}
        },
        OperandType::Topic => {
            if o.topic.as_deref().is_none_or(|t| t.trim().is_empty()) {
                ctx.error(
                    "category.topic-missing",
                    pos(ctx, path),
                    "an operand of type Topic needs `topic:` with a Topic name".into(),
                    None,
                );
            }
        }
        OperandType::OperandGroup => {
            if o.operands.is_empty() {
                ctx.error(
                    "category.group-empty",
                    pos(ctx, path),
                    "an OperandGroup needs at least one operand under `operands`".into(),
                    None,
                );
            }
        }
    }
    if o.kind != OperandType::Term && o.term.is_some()
        || o.kind != OperandType::Topic && o.topic.is_some()
        || o.kind != OperandType::OperandGroup && !o.operands.is_empty()
    {
        ctx.warning(
            "category.operand-extra",
            pos(ctx, path),
            format!(
                "an operand of type {} also has fields of another type (term, topic or operands)",
                o.kind.as_str()
            ),
            Some("Genesys reads only the fields of the operand's type".into()),
        );
    }
    let last = o.operands.len().saturating_sub(1);
    for (i, child) in o.operands.iter().enumerate() {
        path.extend([Seg::Key("operands"), Seg::Index(i)]);
        check_operand(ctx, child, path);
        match (&child.infix_operator, i == last) {
            // The org refuses it (an operand's infixOperator is what joins it to the
            // next), so it is an error here, not after the merge.
            (None, false) => ctx.error(
                "category.operator-missing",
                pos(ctx, path),
                "this operand has no infixOperator joining it to the next one".into(),
                Some("add `infixOperator: {operatorType: And}` (or Or, Near)".into()),
            ),
            (Some(_), true) => ctx.warning(
                "category.operator-trailing",
                pos(ctx, path),
                "the last operand of a group has an infixOperator, which joins nothing".into(),
                None,
            ),
            (Some(op), false)
                if op.operator_type == OperatorType::Near && op.operator_position.is_none() =>
            {
                ctx.warning(
                    "category.near-without-position",
                    pos(ctx, path),
                    "a Near operator without operatorPosition does not say how near".into(),
                    Some("add `operatorPosition: {voiceSecondsPosition: N}`".into()),
                )
            }
            _ => {}
        }
        path.truncate(path.len() - 2);
    }
}

fn validate(ctx: &mut Ctx<'_>, spec: &CategorySpec) {
    common(ctx, &spec.name, spec.renamed_from.as_deref(), &[]);
    check_operand(ctx, &spec.criteria, &mut vec![Seg::Key("criteria")]);
}

/// A normalised category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub name: String,
    pub description: String,
    pub interaction_type: String,
    pub criteria: Operand,
}

/// Wire shapes (SDK 269 `StaCategory`, `CategoryRequest`, `Operand` with `topicId`).
pub mod wire {
    use serde::{Deserialize, Serialize};

    use crate::genesys::types::IdName;

    /// `Operand` on the wire: as the spec's, with `topicId` for `topic`; read as JSON
    /// and converted field by field (an unknown field is an error, never dropped).
    pub type Operand = serde_json::Value;

    /// A category as Genesys returns it.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct StaCategory {
        pub id: String,
        pub name: String,
        pub description: Option<String>,
        pub interaction_type: Option<String>,
        pub criteria: Operand,
        pub modified_by: Option<IdName>,
        pub date_modified: Option<String>,
    }

    /// The body of `POST /categories` and `PUT /categories/{id}`.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct CategoryRequest {
        pub name: String,
        pub description: String,
        pub interaction_type: String,
        pub criteria: Operand,
    }
}

/// The model operand of a wire operand: `topicId` becomes `topic` (the id, until
/// `remote` names it). An operand speechops cannot model (a field or value a newer
/// Genesys added) is an error: a substitute would be written back over the org's.
fn operand_from_wire(v: &serde_json::Value, refs: &mut Vec<RemoteRef>) -> Result<Operand, String> {
    let mut v = v.clone();
    if let Some(obj) = v.as_object_mut() {
        if let Some(id) = obj
            .remove("topicId")
            .and_then(|t| t.as_str().map(str::to_string))
        {
            refs.push(RemoteRef {
                kind: Kind::Topic,
                id: id.clone(),
                name: id.clone(),
            });
            obj.insert("topic".into(), serde_json::Value::String(id));
        }
        if let Some(serde_json::Value::Array(items)) = obj.remove("operands") {
            let mut children = Vec::with_capacity(items.len());
            for c in &items {
                let child = operand_from_wire(c, refs)?;
                children.push(serde_json::to_value(child).map_err(|e| e.to_string())?);
            }
            obj.insert("operands".into(), serde_json::Value::Array(children));
        }
    }
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// The wire operand of a model operand: topic names become ids.
fn operand_to_wire(o: &Operand, ids: &Ids, missing: &mut Vec<String>) -> serde_json::Value {
    let mut v = serde_json::to_value(o).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        if let Some(name) = obj
            .remove("topic")
            .and_then(|t| t.as_str().map(str::to_string))
        {
            match ids.get(Kind::Topic, &name) {
                Some(id) => {
                    obj.insert("topicId".into(), serde_json::Value::String(id.to_string()));
                }
                None => missing.push(name),
            }
        }
        if !o.operands.is_empty() {
            let children: Vec<serde_json::Value> = o
                .operands
                .iter()
                .map(|c| operand_to_wire(c, ids, missing))
                .collect();
            obj.insert("operands".into(), serde_json::Value::Array(children));
        }
    }
    v
}

// The client's structured error is returned rarely; boxing it is not worth it here
// either (as in genesys::client).
#[allow(clippy::result_large_err)]
fn from_wire(w: &wire::StaCategory) -> ApiResult<(Category, Vec<RemoteRef>)> {
    let mut refs = Vec::new();
    let criteria =
        operand_from_wire(&w.criteria, &mut refs).map_err(|e| genesys::Error::Decode {
            method: "GET".into(),
            path: path_of(&w.id),
            message: format!(
                "category {:?}: speechops cannot read its criteria ({e}), so it stops rather \
than guess; a newer speechops may know this field",
                w.name
            ),
        })?;
    let c = Category {
        name: w.name.clone(),
        description: w.description.clone().unwrap_or_default(),
        interaction_type: w.interaction_type.clone().unwrap_or_default(),
        criteria,
    };
    Ok((c, refs))
}

fn path() -> String {
    format!("{STA}/categories")
}

fn path_of(id: &str) -> String {
    format!("{}/{}", path(), encode_segment(id))
}

impl Named for wire::StaCategory {
    async fn find(client: &Client, name: &str) -> ApiResult<Option<Self>> {
        let listed: Vec<wire::StaCategory> = client
            .list_numbered(&path(), PAGE_SIZE, Some(("name", name)))
            .await?;
        Ok(listed.into_iter().find(|c| c.name == name))
    }
}

impl Client {
    /// Every category (whole bodies), all pages of 25.
    pub async fn list_categories(&self) -> ApiResult<Vec<wire::StaCategory>> {
        self.list_numbered(&path(), PAGE_SIZE, None).await
    }
    /// One category.
    pub async fn get_category(&self, id: &str) -> ApiResult<wire::StaCategory> {
        self.get_at(&path_of(id)).await
    }
    /// Creates a category (safe against duplicate creation on retry).
    pub async fn create_category(
        &self,
        body: &wire::CategoryRequest,
    ) -> ApiResult<Written<wire::StaCategory>> {
        self.create(path(), &body.name, body).await
    }
    /// Replaces a category.
    pub async fn update_category(
        &self,
        id: &str,
        body: &wire::CategoryRequest,
    ) -> ApiResult<Written<wire::StaCategory>> {
        self.put(path_of(id), body).await
    }
    /// Deletes a category; a 404 counts as success.
    pub async fn delete_category(&self, id: &str) -> ApiResult<Written<()>> {
        self.delete_at(path_of(id), None).await
    }
}

/// The `topic:` references of a criteria tree in a spec document.
fn topic_refs(node: &Node, field_pos: (u64, u64), out: &mut Vec<SpecRef>) {
    if let Some((_, t)) = node.entry("topic")
        && let Some(name) = super::topic::ref_name(t)
    {
        out.push(SpecRef {
            kind: Kind::Topic,
            name,
            pos: (t.line, t.column),
            field_pos,
        });
    }
    if let Some((_, ops)) = node.entry("operands")
        && let Value::Seq(items) = &ops.value
    {
        for item in items {
            topic_refs(item, field_pos, out);
        }
    }
}

impl Managed for Category {
    type Spec = CategorySpec;
    const NAME: &'static str = "Category";
    const SCHEMA_FILE: &'static str = "category.schema.json";
    const FILE_STEM: &'static str = "category";
    const REFERS_TO: &'static [Kind] = &[Kind::Topic];
    const LIST_HAS_BODIES: bool = true;

    fn validate(ctx: &mut Ctx<'_>, spec: &CategorySpec) {
        validate(ctx, spec);
    }
    fn renamed_from(spec: &CategorySpec) -> Option<String> {
        spec.renamed_from.clone()
    }
    fn from_spec(spec: CategorySpec) -> Category {
        Category {
            name: spec.name,
            description: spec.description,
            interaction_type: spec.interaction_type.as_str().to_string(),
            criteria: spec.criteria,
        }
    }
    fn to_spec(&self) -> CategorySpec {
        CategorySpec {
            name: self.name.clone(),
            renamed_from: None,
            description: self.description.clone(),
            interaction_type: InteractionType::parse(&self.interaction_type)
                .unwrap_or(InteractionType::All),
            criteria: self.criteria.clone(),
        }
    }
    fn spec_refs(node: &Node) -> Vec<SpecRef> {
        let mut out = Vec::new();
        if let Some(criteria) = node.get(&[Seg::Key("criteria")]) {
            topic_refs(criteria, node.key_pos(&[Seg::Key("criteria")]), &mut out);
        }
        out
    }

    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }
    /// The criteria tree keeps its order: operators join neighbours.
    fn normalized(self) -> Category {
        self
    }
    fn refs(&self) -> Vec<(Kind, &str)> {
        let mut all = Vec::new();
        self.criteria.walk(&mut all);
        all.into_iter()
            .filter_map(|o| o.topic.as_deref().map(|t| (Kind::Topic, t)))
            .collect()
    }
    fn rename_refs(&mut self, rename: &dyn Fn(Kind, &str) -> Option<String>) {
        self.criteria.walk_mut(&mut |o| {
            if let Some(t) = &mut o.topic
                && let Some(new) = rename(Kind::Topic, t)
            {
                *t = new;
            }
        });
    }

    async fn list(client: &Client) -> ApiResult<Vec<Listed>> {
        let mut out = Vec::new();
        for w in client.list_categories().await? {
            let (c, refs) = from_wire(&w)?;
            let body: super::Object = c.into();
            out.push(Listed {
                unsettled: false,
                fingerprint: Some(body.sha256()),
                body: Some(body),
                refs,
                modified_by: w.modified_by.map(|m| m.id),
                id: w.id,
                name: w.name,
                date_modified: w.date_modified,
                published: false,
            });
        }
        Ok(out)
    }

    async fn get(client: &Client, id: &str) -> ApiResult<Fetched> {
        let w = client.get_category(id).await?;
        let (c, refs) = from_wire(&w)?;
        Ok(Fetched {
            body: c.into(),
            refs,
            held_by: Vec::new(),
            id: w.id,
            published: false,
            date_modified: w.date_modified,
        })
    }

    async fn put(
        &self,
        client: &Client,
        id: Option<&str>,
        _previous: Option<&Category>,
        ids: &Ids,
    ) -> ApiResult<Put> {
        let mut missing = Vec::new();
        let criteria = operand_to_wire(&self.criteria, ids, &mut missing);
        if !missing.is_empty() {
            return Err(genesys::Error::Decode {
                method: "-".into(),
                path: "-".into(),
                message: format!(
                    "category {:?} references topics with no known id: {}",
                    self.name,
                    missing.join(", ")
                ),
            });
        }
        let req = wire::CategoryRequest {
            name: self.name.clone(),
            description: self.description.clone(),
            interaction_type: self.interaction_type.clone(),
            criteria,
        };
        let w = match id {
            Some(id) => client.update_category(id, &req).await?,
            None => client.create_category(&req).await?,
        };
        Ok(Put::new(w.value.id, w.value.date_modified, false, w.meta))
    }

    async fn delete(client: &Client, id: &str) -> ApiResult<Written<()>> {
        client.delete_category(id).await
    }

    #[cfg(test)]
    fn example(name: String, tags: Vec<String>, inverted: bool) -> Category {
        Category {
            name,
            description: tags.join(" "),
            interaction_type: "All".into(),
            criteria: Operand {
                kind: OperandType::Term,
                occurrence: None,
                inverted: Some(inverted),
                term: Some(Term {
                    word: "competitor".into(),
                    participant_type: ParticipantType::External,
                }),
                topic: None,
                voice_seconds_position: None,
                digital_words_position: None,
                infix_operator: None,
                operands: Vec::new(),
            },
        }
    }

    fn decode_wire(body: &[u8]) -> usize {
        let n =
            usize::from(serde_json::from_slice::<NumberedPage<wire::StaCategory>>(body).is_ok());
        n + match serde_json::from_slice::<wire::StaCategory>(body) {
            Ok(w) => 1 + from_wire(&w).map_or(0, |(_, refs)| refs.len()),
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operand_speechops_cannot_model_is_an_error_not_a_substitute() {
        let json = serde_json::json!({"type": "OperandGroup", "operands": [
            {"type": "Term", "term": {"word": "x", "participantType": "Both"}, "weight": 2}
        ]});
        assert!(operand_from_wire(&json, &mut Vec::new()).is_err());
    }

    #[test]
    fn topics_go_out_as_ids_and_come_back_as_references() {
        let json = serde_json::json!({
            "type": "OperandGroup",
            "operands": [
                {"type": "Topic", "topicId": "t1", "infixOperator": {"operatorType": "And"}},
                {"type": "Term", "term": {"word": "x", "participantType": "Both"}}
            ]
        });
        let mut refs = Vec::new();
        let op = operand_from_wire(&json, &mut refs).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(refs.len(), 1);
        assert_eq!(op.operands[0].topic.as_deref(), Some("t1"));
        let mut ids = Ids::default();
        ids.insert(Kind::Topic, "t1", "t1");
        let mut missing = Vec::new();
        assert_eq!(operand_to_wire(&op, &ids, &mut missing), json);
        assert!(missing.is_empty());
    }
}

//! A YAML document as a tree of nodes that remember where they are, and a serde
//! `Deserializer` over that tree whose errors carry the line and column of the node
//! that caused them.
//!
//! Why not deserialize the spec types straight from serde-saphyr? A document's `kind`
//! decides its type, and serde's internally tagged enums buffer the document, which
//! throws away every location. Parsing into [`Node`]s first keeps the locations, lets
//! us read `kind` before choosing the type, and lets validation point at any field
//! (`phrases[3].text`) after the typed structs are built.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::{Deserialize, forward_to_deserialize_any};

/// One YAML node and where it starts (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: u64,
    pub column: u64,
    pub value: Value,
}

/// The value of a node. Scalars are typed by the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// One step of a path into a document.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl Node {
    /// The map entry with this key, as (key node, value node).
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The node at `path`, if every step exists.
    pub fn get(&self, path: &[Seg<'_>]) -> Option<&Node> {
        let mut node = self;
        for seg in path {
            node = match (seg, &node.value) {
                (Seg::Key(k), _) => node.entry(k)?.1,
                (Seg::Index(i), Value::Seq(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// Location of the key of the last path step (or of the deepest node found).
    pub fn key_pos(&self, path: &[Seg<'_>]) -> (u64, u64) {
        if let Some((Seg::Key(k), parent)) = path.split_last()
            && let Some((key, _)) = self.get(parent).and_then(|p| p.entry(k))
        {
            return (key.line, key.column);
        }
        self.pos(path)
    }

    /// Location of the node at `path`, or of its deepest existing ancestor.
    pub fn pos(&self, path: &[Seg<'_>]) -> (u64, u64) {
        let mut node = self;
        for seg in path {
            let next = match (seg, &node.value) {
                (Seg::Key(k), _) => node.entry(k).map(|(_, v)| v),
                (Seg::Index(i), Value::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        (node.line, node.column)
    }

    /// Text of a scalar as a key or identifier.
    fn scalar_text(&self) -> Option<String> {
        Some(match &self.value {
            Value::Str(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Null => "null".to_string(),
            Value::Seq(_) | Value::Map(_) => return None,
        })
    }
}

/// Removes the deepest map entry or list item at `pos` (a key, or a value) from the
/// document. Returns `None` when nothing is there, else the removed key (if any).
pub fn remove_at(node: &mut Node, pos: (u64, u64)) -> Option<Option<String>> {
    let at = |n: &Node| (n.line, n.column) == pos;
    match &mut node.value {
        Value::Map(entries) => {
            for (_, v) in entries.iter_mut() {
                if let Some(found) = remove_at(v, pos) {
                    return Some(found);
                }
            }
            let i = entries.iter().position(|(k, v)| at(k) || at(v))?;
            let (k, _) = entries.remove(i);
            Some(k.scalar_text())
        }
        Value::Seq(items) => {
            for item in items.iter_mut() {
                if let Some(found) = remove_at(item, pos) {
                    return Some(found);
                }
            }
            let i = items.iter().position(at)?;
            items.remove(i);
            Some(None)
        }
        _ => None,
    }
}

/// The position of the mapping or list that directly holds the entry at `pos` (a key,
/// a value or an item), if any.
pub fn parent_pos(node: &Node, pos: (u64, u64)) -> Option<(u64, u64)> {
    let at = |n: &Node| (n.line, n.column) == pos;
    match &node.value {
        Value::Map(entries) => {
            if entries.iter().any(|(k, v)| at(k) || at(v)) {
                return Some((node.line, node.column));
            }
            entries.iter().find_map(|(_, v)| parent_pos(v, pos))
        }
        Value::Seq(items) => {
            if items.iter().any(at) {
                return Some((node.line, node.column));
            }
            items.iter().find_map(|i| parent_pos(i, pos))
        }
        _ => None,
    }
}

/// Deepest nesting accepted; real specs nest four levels.
pub const MAX_DEPTH: usize = 32;
/// Most nodes one file may produce, counting alias expansions (alias bombs).
pub const MAX_NODES: usize = 2_000_000;

/// A YAML-level problem: syntax, duplicate key, unsupported tag, too deep.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    pub line: u64,
    pub column: u64,
}

/// A collection being built.
enum Frame {
    Seq {
        node: Node,
        anchor: usize,
    },
    Map {
        node: Node,
        anchor: usize,
        key: Option<Node>,
        /// Sources of `<<` merge keys, applied when the mapping ends.
        merges: Vec<Node>,
        /// Text of every key so far: duplicate checks in constant time, not a scan.
        keys: std::collections::HashSet<String>,
    },
}

/// Builds documents from parser events (no serde in between: this is the hot path
/// of `validate`, about three times faster than going through serde-saphyr's
/// deserializer with spans).
struct Builder {
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    error: Option<ParseError>,
    nodes: usize,
}

fn pos(span: &granit::Span) -> (u64, u64) {
    (span.start.line() as u64, span.start.col() as u64 + 1)
}

use serde_saphyr::granit_parser as granit;

impl Builder {
    fn fail(&mut self, code: &'static str, at: (u64, u64), message: String, hint: Option<String>) {
        if self.error.is_none() {
            self.error = Some(ParseError {
                code,
                message,
                hint,
                line: at.0,
                column: at.1,
            });
        }
        self.stack.clear();
    }

    fn count(&mut self, n: usize, at: (u64, u64)) -> bool {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            self.fail(
                "yaml.too-complex",
                at,
                format!("file has more than {MAX_NODES} YAML values (after expanding aliases)"),
                Some("split the specs over several files; avoid alias chains".into()),
            );
            return false;
        }
        true
    }

    /// Checks a collection's tag (only `!!seq`/`!!map` are allowed) and counts it.
    fn collection_ok(&mut self, tag: Option<&granit::Tag>, core: &str, at: (u64, u64)) -> bool {
        if let Some(t) = tag
            && !(t.is_yaml_core_schema() && t.suffix() == core)
        {
            self.fail(
                "yaml.tag",
                at,
                format!("unsupported tag `{}{}`", t.handle(), t.suffix()),
                Some("spec files use plain YAML; remove the tag".into()),
            );
            return false;
        }
        self.count(1, at)
    }

    fn open(&mut self, frame: Frame, at: (u64, u64)) {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(
                "yaml.too-complex",
                at,
                format!("nesting deeper than {MAX_DEPTH} levels"),
                Some("spec documents nest four levels at most".into()),
            );
            return;
        }
        self.stack.push(frame);
    }

    /// A completed node goes into its parent (or becomes the document root).
    fn complete(&mut self, node: Node, anchor: usize, size: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { node: seq, .. }) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map {
                node: map,
                key,
                merges,
                keys,
                ..
            }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    let Value::Map(entries) = &mut map.value else {
                        return;
                    };
                    if matches!(&k.value, Value::Str(s) if s == "<<") {
                        merges.push(node);
                        return;
                    }
                    let dup = match k.scalar_text() {
                        Some(text) => !keys.insert(text),
                        None => false,
                    };
                    if dup {
                        let text = k.scalar_text().unwrap_or_default();
                        let kat = (k.line, k.column);
                        self.fail(
                            "yaml.duplicate-key",
                            kat,
                            format!("duplicate key `{text}`"),
                            Some(
                                "each key may appear once per mapping; remove or rename one".into(),
                            ),
                        );
                        return;
                    }
                    entries.push((k, node));
                }
            },
        }
    }

    fn close(&mut self) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        match frame {
            Frame::Seq { node, anchor } => {
                let size = node_size(&node);
                self.complete(node, anchor, size);
            }
            Frame::Map {
                mut node,
                anchor,
                merges,
                mut keys,
                ..
            } => {
                // `<<: *base` (or a list of them): keys not set explicitly come from the
                // merged mappings, earlier sources first.
                if let Value::Map(entries) = &mut node.value {
                    let mut has_collection_key =
                        entries.iter().any(|(e, _)| e.scalar_text().is_none());
                    for source in merges {
                        let maps: Vec<Node> = match source.value {
                            Value::Map(_) => vec![source],
                            Value::Seq(items) => items,
                            _ => {
                                let at = (source.line, source.column);
                                self.fail(
                                    "yaml.syntax",
                                    at,
                                    "a merge key `<<` needs a mapping or a list of mappings".into(),
                                    None,
                                );
                                return;
                            }
                        };
                        for m in maps {
                            if let Value::Map(extra) = m.value {
                                for (k, v) in extra {
                                    // A collection key is merged only where the
                                    // mapping has none (any two count as equal here).
                                    let new = match k.scalar_text() {
                                        Some(text) => keys.insert(text),
                                        None => !std::mem::replace(&mut has_collection_key, true),
                                    };
                                    if new {
                                        entries.push((k, v));
                                    }
                                }
                            }
                        }
                    }
                }
                let size = node_size(&node);
                self.complete(node, anchor, size);
            }
        }
    }
}

fn node_size(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(node_size).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| node_size(k) + node_size(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Value::Str(s.to_string());
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return Value::Int(i);
        }
        if let Ok(u) = s.trim_start_matches('+').parse::<u64>() {
            return Value::UInt(u);
        }
        return s
            .parse::<f64>()
            .map_or_else(|_| Value::Str(s.to_string()), Value::Float);
    }
    if let Some(hex) = s.strip_prefix("0x")
        && let Ok(u) = u64::from_str_radix(hex, 16)
    {
        return Value::UInt(u);
    }
    if let Some(oct) = s.strip_prefix("0o")
        && let Ok(u) = u64::from_str_radix(oct, 8)
    {
        return Value::UInt(u);
    }
    // Core-schema floats: digits with a point and/or an exponent, nothing else.
    let is_float = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && s.bytes().any(|b| b.is_ascii_digit());
    if is_float && let Ok(f) = s.parse::<f64>() {
        return Value::Float(f);
    }
    Value::Str(s.to_string())
}

/// Parses every document of `text`. A syntax error ends the file (the parser cannot
/// resynchronise); a document-level error (duplicate key, unsupported tag, too deep)
/// fails that document only, and parsing resumes at the next one. Null documents
/// (`---` with nothing after it) are skipped.
pub fn parse_documents(text: &str) -> Vec<Result<Node, ParseError>> {
    let mut options = granit::Options::default();
    options.emit_comments = false;
    options.flow_nesting_limit = MAX_DEPTH + 1;
    options.block_nesting_limit = MAX_DEPTH + 1;
    let mut parser = granit::Parser::new_from_str_with_options(text, options);
    let mut out = Vec::new();
    let mut b = Builder {
        stack: Vec::new(),
        anchors: std::collections::HashMap::new(),
        root: None,
        error: None,
        nodes: 0,
    };
    while let Some(result) = parser.next_event() {
        let (event, span) = match result {
            Ok(ev) => ev,
            Err(e) => {
                let m = e.marker();
                let info = e.info();
                let message = info.strip_suffix('.').unwrap_or(&info).to_string();
                let hint = message.contains("tab").then(|| {
                    "YAML indents with spaces only: replace the tab with spaces".to_string()
                });
                out.push(Err(ParseError {
                    code: "yaml.syntax",
                    message,
                    hint,
                    line: (m.line() as u64).max(1),
                    column: m.col() as u64 + 1,
                }));
                return out;
            }
        };
        let at = pos(&span);
        use granit::Event as E;
        match event {
            E::StreamEnd => break,
            E::DocumentStart(..) => {
                b.stack.clear();
                b.anchors.clear();
                b.root = None;
                b.error = None;
            }
            E::DocumentEnd => {
                if let Some(e) = b.error.take() {
                    out.push(Err(e));
                } else if let Some(root) = b.root.take()
                    && root.value != Value::Null
                {
                    out.push(Ok(root));
                }
            }
            _ if b.error.is_some() => {}
            E::Scalar(value, style, anchor, tag) => {
                let resolved = match (&tag, style) {
                    (None, granit::ScalarStyle::Plain) => resolve_plain(&value),
                    (None, _) => Value::Str(value.into_owned()),
                    (Some(t), _) if t.handle() == "!" && t.suffix().is_empty() => {
                        Value::Str(value.into_owned())
                    }
                    (Some(t), _) if t.is_yaml_core_schema() => match t.suffix() {
                        "str" => Value::Str(value.into_owned()),
                        "int" | "float" | "bool" | "null" => resolve_plain(&value),
                        other => {
                            b.fail(
                                "yaml.tag",
                                at,
                                format!("unsupported tag `!!{other}`"),
                                Some("remove the tag".into()),
                            );
                            continue;
                        }
                    },
                    (Some(t), _) => {
                        b.fail(
                            "yaml.tag",
                            at,
                            format!("unsupported tag `{}{}`", t.handle(), t.suffix()),
                            Some("spec files use plain YAML; remove the tag".into()),
                        );
                        continue;
                    }
                };
                if b.count(1, at) {
                    b.complete(
                        Node {
                            line: at.0,
                            column: at.1,
                            value: resolved,
                        },
                        anchor,
                        1,
                    );
                }
            }
            E::SequenceStart(_, anchor, tag) if b.collection_ok(tag.as_deref(), "seq", at) => {
                let node = Node {
                    line: at.0,
                    column: at.1,
                    value: Value::Seq(Vec::new()),
                };
                b.open(Frame::Seq { node, anchor }, at);
            }
            E::MappingStart(_, anchor, tag) if b.collection_ok(tag.as_deref(), "map", at) => {
                let node = Node {
                    line: at.0,
                    column: at.1,
                    value: Value::Map(Vec::new()),
                };
                let frame = Frame::Map {
                    node,
                    anchor,
                    key: None,
                    merges: Vec::new(),
                    keys: std::collections::HashSet::new(),
                };
                b.open(frame, at);
            }
            E::SequenceEnd | E::MappingEnd => b.close(),
            E::Alias(id) => match b.anchors.get(&id).cloned() {
                Some((node, size)) => {
                    if b.count(size, at) {
                        b.complete(
                            Node {
                                line: at.0,
                                column: at.1,
                                ..node
                            },
                            0,
                            size,
                        );
                    }
                }
                None => b.fail("yaml.syntax", at, "unknown alias".into(), None),
            },
            _ => {}
        }
    }
    out
}

/// A problem found while turning a node tree into a typed spec.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    /// 1-based; 0 until the error has been attached to a node.
    pub line: u64,
    pub column: u64,
}

impl DeError {
    fn new(code: &'static str, message: String, hint: Option<String>) -> DeError {
        DeError {
            code,
            message,
            hint,
            line: 0,
            column: 0,
        }
    }

    /// Attaches the location of `node` unless a deeper node already did.
    fn at(mut self, node: &Node) -> DeError {
        if self.line == 0 {
            self.line = node.line;
            self.column = node.column;
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new("spec.invalid", msg.to_string(), None)
    }
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        // Users never see the spec types' Rust names: say what to write instead.
        let expected = exp.to_string();
        let (what, hint) = match expected.as_str() {
            "struct TopicPhraseSpec" => (
                "a phrase (a mapping with `text`)".to_string(),
                Some(
                    "write `- text: …` (with `strictness:` or `sentiment:` below it if needed)"
                        .to_string(),
                ),
            ),
            "struct RulePhraseSpec" => (
                "a phrase (a mapping with `phrase`)".to_string(),
                Some("write `- phrase: …` (with `matchType:` below it if needed)".to_string()),
            ),
            "struct ScoringSpec" => (
                "a scoring directive (a mapping with `type` and `value`)".to_string(),
                Some("write `- type: additive` and `value: 0.5` below it".to_string()),
            ),
            "a sequence" => (
                "a list".to_string(),
                Some(
                    "write a list: `[First, Second]`, or one `- item` per line below the key"
                        .to_string(),
                ),
            ),
            "f64" | "f32" => ("a number".to_string(), None),
            "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" => {
                ("a whole number".to_string(), None)
            }
            other => (other.to_string(), None),
        };
        DeError::new(
            "spec.invalid-type",
            format!("invalid type: {unexp}, expected {what}"),
            hint,
        )
    }
    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(
            "spec.invalid-value",
            format!("invalid value: {unexp}, expected {exp}"),
            None,
        )
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(
            "spec.invalid-value",
            format!(
                "unknown value `{variant}`, expected one of {}",
                list(expected)
            ),
            suggest_value(variant, expected),
        )
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let hint = match closest(field, expected.iter().copied()) {
            Some(c) => format!("did you mean `{c}`? (keys are camelCase)"),
            None => format!("allowed keys here: {}", list(expected)),
        };
        DeError::new(
            "spec.unknown-field",
            format!("unknown field `{field}`"),
            Some(hint),
        )
    }
    fn missing_field(field: &'static str) -> Self {
        DeError::new(
            "spec.missing-field",
            format!("missing required field `{field}`"),
            Some(format!("add `{field}: ...` to this mapping")),
        )
    }
    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(
            "yaml.duplicate-key",
            format!("duplicate key `{field}`"),
            Some("each key may appear once per mapping".to_string()),
        )
    }
}

/// `a`, `b`, `c` as a readable list.
pub fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The candidate closest to `word` (case-insensitive edit distance), if close enough
/// to be a plausible typo.
/// A hint for an unknown enum value. Dialects (`xx-YY`) are not suggested by spelling
/// (`en-CA` is not a typo of `en-ZA`): the dialects of the same language, or of the same
/// country, are listed instead.
fn suggest_value(variant: &str, expected: &[&str]) -> Option<String> {
    let is_dialect = |s: &str| s.len() == 5 && s.as_bytes().get(2) == Some(&b'-');
    if is_dialect(variant) && expected.iter().all(|e| is_dialect(e)) {
        let (lang, country) = variant.split_at(2);
        let country = country.trim_start_matches('-');
        let same: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|e| {
                e.get(..2).is_some_and(|l| l.eq_ignore_ascii_case(lang))
                    || e.get(3..).is_some_and(|c| c.eq_ignore_ascii_case(country))
            })
            .collect();
        return Some(if same.is_empty() {
            format!("`{variant}` is not a Genesys topic dialect")
        } else {
            format!(
                "`{variant}` is not a Genesys topic dialect; the closest are {}",
                list(&same)
            )
        });
    }
    closest(variant, expected.iter().copied()).map(|c| format!("did you mean `{c}`?"))
}

pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_lowercase();
    let limit = (w.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&w, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Describes a non-string scalar for a "quote it" message.
fn describe_scalar(node: &Node) -> Option<(&'static str, String)> {
    match &node.value {
        Value::Int(i) => Some(("number", i.to_string())),
        Value::UInt(u) => Some(("number", u.to_string())),
        Value::Float(f) => Some(("number", f.to_string())),
        Value::Bool(b) => Some(("boolean", b.to_string())),
        _ => None,
    }
}

fn quote_error(node: &Node, what: &str) -> Option<DeError> {
    let (kind, text) = describe_scalar(node)?;
    Some(
        DeError::new(
            "spec.invalid-type",
            format!("invalid type: {kind} `{text}`, expected {what}"),
            Some(format!(
                "YAML reads an unquoted {text} as a {kind}; quote it: \"{text}\""
            )),
        )
        .at(node),
    )
}

/// Deserializes typed structs from a [`Node`].
pub struct NodeDe<'a> {
    node: &'a Node,
    /// A top-level key to hide from the struct (the `kind` discriminator).
    skip_key: Option<&'static str>,
}

impl<'a> NodeDe<'a> {
    pub fn new(node: &'a Node) -> NodeDe<'a> {
        NodeDe {
            node,
            skip_key: None,
        }
    }

    /// A deserializer that hides `key` from the top-level mapping.
    pub fn without_key(node: &'a Node, key: &'static str) -> NodeDe<'a> {
        NodeDe {
            node,
            skip_key: Some(key),
        }
    }
}

/// Deserializes `T` from `node`, hiding the `kind` key.
pub fn from_node<'de, T: Deserialize<'de>>(node: &Node) -> Result<T, DeError> {
    T::deserialize(NodeDe::without_key(node, "kind"))
}

impl<'de> Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        let result = match &node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::UInt(u) => visitor.visit_u64(*u),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe { iter: items.iter() }),
            Value::Map(entries) => visitor.visit_map(MapDe {
                iter: entries.iter(),
                skip_key: self.skip_key,
                value: None,
            }),
        };
        result.map_err(|e| e.at(node))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        match &node.value {
            Value::Null => visitor.visit_none::<DeError>().map_err(|e| e.at(node)),
            _ => visitor.visit_some(self).map_err(|e| e.at(node)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if let Some(e) = quote_error(self.node, "a string") {
            return Err(e);
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.node;
        match &node.value {
            // Only strings name a variant: serde would read an integer as a variant
            // *index*, so `strictness: 1` would silently mean "55".
            Value::Str(s) => {
                let de: de::value::StrDeserializer<'_, DeError> = s.as_str().into_deserializer();
                visitor.visit_enum(de).map_err(|e| e.at(node))
            }
            _ => {
                let what = format!("one of {}", list(variants));
                // Quoting an unquoted value that is no variant either would only get a
                // second error on the next run: say both at once.
                if let Some((kind, text)) = describe_scalar(node)
                    && !variants.contains(&text.as_str())
                {
                    let closest = closest(&text, variants.iter().copied())
                        .map(|c| format!("; did you mean \"{c}\"?"))
                        .unwrap_or_default();
                    return Err(DeError::new(
                        "spec.invalid-type",
                        format!("invalid type: {kind} `{text}`, expected {what}"),
                        Some(format!(
                            "{text} is not one of them, and YAML needs it quoted{closest}"
                        )),
                    )
                    .at(node));
                }
                if let Some(e) = quote_error(node, &what) {
                    return Err(e);
                }
                self.deserialize_any(visitor)
            }
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        match node.scalar_text() {
            Some(text) => visitor
                .visit_string::<DeError>(text)
                .map_err(|e| e.at(node)),
            None => Err(DeError::new(
                "spec.invalid-type",
                "mapping keys must be plain strings".to_string(),
                None,
            )
            .at(node)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.node;
        visitor.visit_newtype_struct(self).map_err(|e| e.at(node))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct ignored_any
    }
}

struct SeqDe<'a> {
    iter: std::slice::Iter<'a, Node>,
}

impl<'de> SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(node) => seed
                .deserialize(NodeDe::new(node))
                .map(Some)
                .map_err(|e| e.at(node)),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapDe<'a> {
    iter: std::slice::Iter<'a, (Node, Node)>,
    skip_key: Option<&'static str>,
    value: Option<&'a Node>,
}

impl<'de> MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        loop {
            let Some((key, value)) = self.iter.next() else {
                return Ok(None);
            };
            if let (Some(skip), Value::Str(k)) = (self.skip_key, &key.value)
                && k == skip
            {
                continue;
            }
            self.value = Some(value);
            return seed
                .deserialize(NodeDe::new(key))
                .map(Some)
                .map_err(|e| e.at(key));
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(node) => seed.deserialize(NodeDe::new(node)).map_err(|e| e.at(node)),
            None => Err(de::Error::custom("value requested before key")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Vec<Result<Node, ParseError>> {
        parse_documents(s)
    }

    #[test]
    fn nodes_carry_locations() {
        let docs = parse("a: 1\nb:\n  - x\n  - y: 2\n");
        let Ok(node) = &docs[0] else {
            panic!("{docs:?}")
        };
        assert_eq!((node.line, node.column), (1, 1));
        let y = node.get(&[Seg::Key("b"), Seg::Index(1), Seg::Key("y")]);
        assert_eq!(y.map(|n| (n.line, n.column)), Some((4, 8)));
        assert_eq!(node.key_pos(&[Seg::Key("b")]), (2, 1));
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let docs = parse("[1, -2, 0x1F, 1.5, 1e3, .inf, .nan, true, no, ~, '7', 1_000, 1.2.3, +]");
        let Ok(Node {
            value: Value::Seq(items),
            ..
        }) = &docs[0]
        else {
            panic!("{docs:?}")
        };
        let v: Vec<String> = items.iter().map(|n| format!("{:?}", n.value)).collect();
        assert_eq!(
            v,
            [
                "Int(1)",
                "Int(-2)",
                "UInt(31)",
                "Float(1.5)",
                "Float(1000.0)",
                "Float(inf)",
                "Float(NaN)",
                "Bool(true)",
                "Str(\"no\")",
                "Null",
                "Str(\"7\")",
                "Str(\"1_000\")",
                "Str(\"1.2.3\")",
                "Str(\"+\")"
            ]
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let docs = parse("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nz: *b\n");
        let Ok(node) = &docs[0] else {
            panic!("{docs:?}")
        };
        let y = node
            .get(&[Seg::Key("other"), Seg::Key("y")])
            .map(|n| n.value.clone());
        assert_eq!(y, Some(Value::Int(3)));
        let x = node
            .get(&[Seg::Key("other"), Seg::Key("x")])
            .map(|n| n.value.clone());
        assert_eq!(x, Some(Value::Int(1)));
        assert!(node.get(&[Seg::Key("z"), Seg::Key("x")]).is_some());
    }

    #[test]
    fn duplicate_keys_are_errors_and_next_document_still_parses() {
        let docs = parse("a: 1\na: 2\n---\nb: 3\n");
        assert_eq!(docs.len(), 2, "{docs:?}");
        let Err(e) = &docs[0] else { panic!() };
        assert_eq!((e.code, e.line, e.column), ("yaml.duplicate-key", 2, 1));
        assert!(docs[1].is_ok());
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_errors_not_crashes() {
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).iter().any(|d| d.is_err()));
        let deep = (0..5000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect::<String>();
        assert!(parse(&deep).iter().any(|d| d.is_err()));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let docs = parse(&bomb);
        assert!(
            matches!(&docs[0], Err(e) if e.code == "yaml.too-complex"),
            "{docs:?}"
        );
    }

    #[test]
    fn tags() {
        let docs = parse("a: !!str 72\nb: !custom x\n");
        assert!(matches!(&docs[0], Err(e) if e.code == "yaml.tag" && e.line == 2));
        let docs = parse("a: !!str 72\n");
        let Ok(node) = &docs[0] else { panic!() };
        assert_eq!(
            node.get(&[Seg::Key("a")]).map(|n| n.value.clone()),
            Some(Value::Str("72".into()))
        );
    }
}

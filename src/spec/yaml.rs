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

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::UInt(v))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Float(v as f64))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::Float(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<Node, Node>()? {
            entries.push(entry);
        }
        Ok(Value::Map(entries))
    }
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
        DeError::new(
            "spec.invalid-type",
            format!("invalid type: {unexp}, expected {exp}"),
            None,
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
            closest(variant, expected.iter().copied()).map(|c| format!("did you mean `{c}`?")),
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

    fn parse(s: &str) -> Vec<Result<Node, serde_saphyr::Error>> {
        let mut bytes = s.as_bytes();
        serde_saphyr::read_with_options::<_, Node>(&mut bytes, crate::spec::load::yaml_options())
            .collect()
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
    fn duplicate_keys_are_errors_and_next_document_still_parses() {
        let docs = parse("a: 1\na: 2\n---\nb: 3\n");
        assert_eq!(docs.len(), 2, "{docs:?}");
        let Err(e) = &docs[0] else { panic!() };
        let loc = e.location().expect("location");
        assert_eq!(loc.line(), 2, "{e}");
        assert!(docs[1].is_ok());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        let docs = parse(&deep);
        assert!(docs.iter().any(|d| d.is_err()));
        let deep = (0..5000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect::<String>();
        let docs = parse(&deep);
        assert!(docs.iter().any(|d| d.is_err()));
    }
}

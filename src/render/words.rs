//! A change in the user's terms: what an update adds, removes and changes, field by
//! field and item by item (phrases by their text, members of a list by value), and
//! nothing the two sides agree on, so defaults neither side changed never show.
//! Pure; the raw YAML diff stays in the JSON plan (`diff`).

use serde_json::Value;

/// The fields that name an item of a list of objects (a phrase by its `text`, a
/// reference by its `name`), in order of preference.
const ITEM_KEYS: [&str; 5] = ["text", "term", "name", "topic", "id"];

/// Lines describing how `before` became `after` (both an object's content), each
/// starting with `+` (added), `-` (removed) or `~` (changed).
pub fn changes(before: &Value, after: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("", before, after, &mut out);
    out
}

fn walk(path: &str, before: &Value, after: &Value, out: &mut Vec<String>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut keys: Vec<&String> = a.keys().collect();
            keys.extend(b.keys().filter(|k| !a.contains_key(*k)));
            for k in keys {
                let p = join(path, k);
                match (b.get(k), a.get(k)) {
                    (Some(bv), Some(av)) => walk(&p, bv, av, out),
                    // A field the content leaves out holds its default.
                    (None, Some(av)) if is_scalar(av) => {
                        out.push(format!("~ {p}: (default) → {}", show(av)));
                    }
                    (Some(bv), None) if is_scalar(bv) => {
                        out.push(format!("~ {p}: {} → (default)", show(bv)));
                    }
                    (None, Some(av)) if !is_empty(av) => out.push(format!("+ {p}: {}", show(av))),
                    (Some(bv), None) if !is_empty(bv) => out.push(format!("- {p}: {}", show(bv))),
                    _ => {}
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => list(path, b, a, out),
        _ => out.push(format!("~ {path}: {} → {}", show(before), show(after))),
    }
}

/// A list: members by value, objects by their naming field (else by position).
fn list(path: &str, before: &[Value], after: &[Value], out: &mut Vec<String>) {
    let key = ITEM_KEYS.iter().copied().find(|k| {
        before
            .iter()
            .chain(after)
            .all(|v| v.get(k).is_some_and(Value::is_string))
    });
    let key = key.filter(|_| !before.is_empty() || !after.is_empty());
    match key {
        Some(k) => {
            let name = |v: &Value| {
                v.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            for b in before {
                if !after.iter().any(|a| name(a) == name(b)) {
                    out.push(format!("- {path}: {}", item(b, k)));
                }
            }
            for a in after {
                match before.iter().find(|b| name(b) == name(a)) {
                    None => out.push(format!("+ {path}: {}", item(a, k))),
                    Some(b) if b != a => {
                        let mut inner = Vec::new();
                        walk("", b, a, &mut inner);
                        for line in inner {
                            // `~ strictness: "72" → "90"` under `phrases "wire transfer"`.
                            let (mark, rest) = line.split_at(1);
                            out.push(format!(
                                "{mark} {path} {}:{}",
                                show(&Value::String(name(a))),
                                rest.strip_prefix(' ')
                                    .map_or(String::new(), |r| format!(" {r}"))
                            ));
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        None if before
            .iter()
            .chain(after)
            .all(|v| !v.is_object() && !v.is_array()) =>
        {
            for b in before.iter().filter(|b| !after.contains(b)) {
                out.push(format!("- {path}: {}", show(b)));
            }
            for a in after.iter().filter(|a| !before.contains(a)) {
                out.push(format!("+ {path}: {}", show(a)));
            }
        }
        None if before.len() == after.len() => {
            for (i, (b, a)) in before.iter().zip(after).enumerate() {
                walk(&format!("{path}[{}]", i + 1), b, a, out);
            }
        }
        None => {
            for b in before.iter().filter(|b| !after.contains(b)) {
                out.push(format!("- {path}: {}", show(b)));
            }
            for a in after.iter().filter(|a| !before.contains(a)) {
                out.push(format!("+ {path}: {}", show(a)));
            }
        }
    }
}

/// An item named by `key`, with its other fields: `"scam" (strictness "85")`.
fn item(v: &Value, key: &str) -> String {
    let name = v.get(key).map(show).unwrap_or_default();
    let rest: Vec<String> = v
        .as_object()
        .into_iter()
        .flatten()
        // `Unspecified` is an enum's way of saying nothing.
        .filter(|(k, x)| k.as_str() != key && !is_empty(x) && x.as_str() != Some("Unspecified"))
        .map(|(k, x)| format!("{k} {}", show(x)))
        .collect();
    if rest.is_empty() {
        name
    } else {
        format!("{name} ({})", rest.join(", "))
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::Bool(_) | Value::Number(_)) || v.as_str().is_some_and(|s| !s.is_empty())
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// A value on one line: strings quoted, lists and objects as compact JSON.
fn show(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_removed_phrase_is_one_line_and_unchanged_defaults_never_show() {
        let before = json!({"name": "Fraud", "strictness": "72", "phrases": [
            {"text": "scam", "strictness": "72", "sentiment": "Unspecified"},
            {"text": "wire transfer", "strictness": "72", "sentiment": "Unspecified"}
        ]});
        let after = json!({"name": "Fraud", "strictness": "72", "phrases": [
            {"text": "wire transfer", "strictness": "90", "sentiment": "Unspecified"},
            {"text": "gift cards", "strictness": "85", "sentiment": "Negative"}
        ]});
        assert_eq!(
            changes(&before, &after),
            vec![
                "- phrases: \"scam\" (strictness \"72\")",
                "~ phrases \"wire transfer\": strictness: \"72\" → \"90\"",
                "+ phrases: \"gift cards\" (strictness \"85\", sentiment \"Negative\")",
            ]
        );
    }

    #[test]
    fn members_scalars_and_nested_objects() {
        let before = json!({"topics": ["A", "B"], "description": "old", "criteria": {"and": [{"topic": "A"}]}});
        let after = json!({"topics": ["B", "C"], "description": "new", "criteria": {"and": [{"topic": "C"}]}, "tags": ["x"]});
        assert_eq!(
            changes(&before, &after),
            vec![
                "- topics: \"A\"",
                "+ topics: \"C\"",
                "~ description: \"old\" → \"new\"",
                "- criteria.and: \"A\"",
                "+ criteria.and: \"C\"",
                "+ tags: [\"x\"]",
            ]
        );
        assert!(changes(&before, &before).is_empty());
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            "[a-c]{0,3}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("(text|name|x|y)", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Any two contents: no panic, nothing for equal ones, and something for
        /// objects that differ in a scalar field.
        #[test]
        fn words_never_panic_and_are_empty_only_when_nothing_changed(
            a in arb_json(),
            b in arb_json(),
            x in "[a-c]{1,3}",
        ) {
            let _ = changes(&a, &b);
            proptest::prop_assert!(changes(&a, &a).is_empty());
            let one = json!({"field": x, "rest": a});
            let other = json!({"field": format!("{x}!"), "rest": a});
            proptest::prop_assert!(!changes(&one, &other).is_empty());
        }
    }
}

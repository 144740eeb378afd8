//! `speechops fmt`: spec files in canonical layout (2-space indentation, one space
//! after `:` and `-`, normalised flow collections), comments kept. The layout is done
//! by `pretty_yaml` (the formatter of dprint's YAML plugin); this module adds the one
//! promise a formatter of compliance rules must keep: the meaning never changes. A
//! result that does not parse to the same documents is refused. Pure.

use crate::spec::yaml::{self, Node, Value};

/// Why a file cannot be formatted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not valid YAML: {0}")]
    Syntax(String),
    #[error("the formatter would change what the file means; it was left as it is")]
    WouldChangeMeaning,
}

/// The canonical text of a spec file.
pub fn format(text: &str) -> Result<String, FormatError> {
    let mut options = pretty_yaml::config::FormatOptions::default();
    options.layout.indent_width = 2;
    options.layout.print_width = 100;
    let formatted = pretty_yaml::format_text(text, &options)
        .map_err(|e| FormatError::Syntax(format!("{e:?}")))?;
    if !same_documents(text, &formatted) {
        return Err(FormatError::WouldChangeMeaning);
    }
    Ok(formatted)
}

/// Whether two texts parse to the same documents (positions aside).
fn same_documents(a: &str, b: &str) -> bool {
    let (da, db) = (yaml::parse_documents(a), yaml::parse_documents(b));
    da.len() == db.len()
        && da.iter().zip(&db).all(|(x, y)| match (x, y) {
            (Ok(x), Ok(y)) => same(x, y),
            (Err(_), Err(_)) => true,
            _ => false,
        })
}

fn same(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
        }
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (x, y) => x == y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_normalised_and_comments_are_kept() {
        let messy = "# why this topic exists\nkind:   Topic\nname: X   # the name\nphrases:\n    -   text: \"a\"\n    - text: b\ntags: [a,   b]\n";
        let out = format(messy).unwrap();
        assert_eq!(
            out,
            "# why this topic exists\nkind: Topic\nname: X # the name\nphrases:\n  - text: \"a\"\n  - text: b\ntags: [a, b]\n"
        );
        assert_eq!(format(&out).unwrap(), out, "idempotent");
    }

    #[test]
    fn invalid_yaml_is_an_error() {
        assert!(matches!(format("a: [b\n"), Err(FormatError::Syntax(_))));
    }
}

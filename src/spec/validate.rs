//! Validation rules: per spec (SPEC section 3 and the origin tutorial) and across the
//! tree (unique names, program topic references, renames).
//!
//! Every rule reports and carries on; nothing here stops at the first problem.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::kinds::{MatchType, ProgramSpec, SpeechRuleSpec, TopicSpec};
use super::load::Entry;
use super::yaml::{self, Node, Seg};
use super::{Diagnostic, Severity};
use crate::model::{Kind, Object, phrase_key};

/// Genesys limit: phrases per topic.
pub const MAX_TOPIC_PHRASES: usize = 1000;
/// Origin tutorial limit: phrases per speech rule.
pub const MAX_RULE_PHRASES: usize = 100;
/// Genesys limit: topics per dialect per program.
pub const MAX_PROGRAM_TOPICS_PER_DIALECT: usize = 500;

/// The document being validated and where its problems go.
pub struct Ctx<'a> {
    pub file: &'a Path,
    pub node: &'a Node,
    pub diags: &'a mut Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    /// The same context over another version of the document (when given).
    pub fn with_node<'b>(&'b mut self, node: Option<&'b Node>) -> Ctx<'b> {
        Ctx {
            file: self.file,
            node: node.unwrap_or(self.node),
            diags: self.diags,
        }
    }

    pub fn error(&mut self, code: &str, pos: (u64, u64), message: String, hint: Option<String>) {
        self.push(Severity::Error, code, pos, message, hint);
    }

    pub fn warning(&mut self, code: &str, pos: (u64, u64), message: String, hint: Option<String>) {
        self.push(Severity::Warning, code, pos, message, hint);
    }

    fn push(
        &mut self,
        severity: Severity,
        code: &str,
        pos: (u64, u64),
        message: String,
        hint: Option<String>,
    ) {
        self.diags.push(Diagnostic::new(
            severity, code, message, self.file, pos, hint,
        ));
    }

    fn pos(&self, path: &[Seg<'_>]) -> (u64, u64) {
        self.node.pos(path)
    }

    fn key_pos(&self, path: &[Seg<'_>]) -> (u64, u64) {
        self.node.key_pos(path)
    }
}

/// Checks shared by every kind: name, renamedFrom, tags.
fn common(ctx: &mut Ctx<'_>, name: &str, renamed_from: Option<&str>, tags: &[String]) {
    let name_pos = ctx.pos(&[Seg::Key("name")]);
    if name.trim().is_empty() {
        ctx.error(
            "spec.name-empty",
            name_pos,
            "`name` must not be empty".into(),
            Some("the name is the spec's identity within its kind".into()),
        );
    } else if name.trim() != name {
        ctx.warning(
            "spec.name-whitespace",
            name_pos,
            format!("name {name:?} has leading or trailing whitespace"),
            Some("Genesys may trim names, which would show a change on every plan".into()),
        );
    }
    if let Some(old) = renamed_from {
        let pos = ctx.pos(&[Seg::Key("renamedFrom")]);
        if old.trim().is_empty() {
            ctx.error(
                "spec.renamed-from-empty",
                pos,
                "`renamedFrom` must not be empty".into(),
                Some("remove `renamedFrom` or give the previous name".into()),
            );
        } else if old == name {
            ctx.warning(
                "spec.renamed-from-self",
                pos,
                format!("`renamedFrom` is the same as `name` ({name:?})"),
                Some("remove `renamedFrom` once the rename has been applied".into()),
            );
        }
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, tag) in tags.iter().enumerate() {
        let pos = ctx.pos(&[Seg::Key("tags"), Seg::Index(i)]);
        if tag.trim().is_empty() {
            ctx.error("spec.tag-empty", pos, "tags must not be empty".into(), None);
        } else if let Some(first) = seen.get(tag.as_str()) {
            let first_line = ctx.pos(&[Seg::Key("tags"), Seg::Index(*first)]).0;
            ctx.warning(
                "spec.duplicate-tag",
                pos,
                format!("duplicate tag `{tag}` (also on line {first_line})"),
                Some("remove one of them".into()),
            );
        } else {
            seen.insert(tag, i);
        }
    }
}

/// A phrase key padded with spaces, so `contains` matches whole words only.
fn padded(key: &str) -> String {
    format!(" {key} ")
}

/// Overlapping matches examined per phrase; bounds the work a hostile phrase
/// (`a a a a …` among `a`, `a a`, …) can cause.
const MAX_MATCHES_PER_PHRASE: usize = 10_000;

/// For each of `keys` (distinct strings), the positions of the other keys it contains,
/// found with one Aho-Corasick automaton over all keys: linear in the text plus the
/// matches (capped per key), instead of comparing every pair.
fn contained_keys(keys: &[&str]) -> Vec<Vec<usize>> {
    // Pairwise comparison is cheapest for the few phrases most specs have; the
    // automaton (a plain NFA: cheap to build, unlike a DFA) bounds the large ones.
    if keys.len() <= 32 {
        return keys
            .iter()
            .enumerate()
            .map(|(i, hay)| {
                (0..keys.len())
                    .filter(|&j| j != i && hay.contains(keys[j]))
                    .collect()
            })
            .collect();
    }
    let Ok(ac) = aho_corasick::AhoCorasick::builder()
        .kind(Some(aho_corasick::AhoCorasickKind::NoncontiguousNFA))
        .build(keys)
    else {
        // Only a pattern set beyond the automaton's size limits gets here; the limits
        // on phrases per spec and on file size keep real specs far below it.
        return vec![Vec::new(); keys.len()];
    };
    keys.iter()
        .enumerate()
        .map(|(i, hay)| {
            let mut found: Vec<usize> = ac
                .find_overlapping_iter(*hay)
                .take(MAX_MATCHES_PER_PHRASE)
                .map(|m| m.pattern().as_usize())
                .filter(|&j| j != i)
                .collect();
            found.sort_unstable();
            found.dedup();
            found
        })
        .collect()
}

/// Topic rules: 1..=1000 phrases, non-empty and unique; contained phrases warned.
pub fn topic(ctx: &mut Ctx<'_>, spec: &TopicSpec) {
    common(ctx, &spec.name, spec.renamed_from.as_deref(), &spec.tags);
    let n = spec.phrases.len();
    if n == 0 {
        ctx.error(
            "topic.no-phrases",
            ctx.key_pos(&[Seg::Key("phrases")]),
            "a topic needs at least one phrase".into(),
            Some("add `- text: ...` under `phrases`".into()),
        );
    } else if n > MAX_TOPIC_PHRASES {
        ctx.error(
            "topic.too-many-phrases",
            ctx.key_pos(&[Seg::Key("phrases")]),
            format!("topic has {n} phrases; Genesys allows at most {MAX_TOPIC_PHRASES}"),
            Some("split the topic into several topics".into()),
        );
    }
    let text_pos =
        |ctx: &Ctx<'_>, i: usize| ctx.pos(&[Seg::Key("phrases"), Seg::Index(i), Seg::Key("text")]);
    // (key, index of first occurrence); keys of non-empty, first-seen phrases only.
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(n);
    let mut unique: Vec<(usize, String)> = Vec::with_capacity(n);
    for (i, p) in spec.phrases.iter().enumerate() {
        let key = phrase_key(&p.text);
        if key.is_empty() {
            ctx.error(
                "topic.phrase-empty",
                text_pos(ctx, i),
                "phrase text must not be empty".into(),
                None,
            );
            continue;
        }
        if let Some(first) = seen.get(&key) {
            let first_line = text_pos(ctx, *first).0;
            ctx.error(
                "topic.duplicate-phrase",
                text_pos(ctx, i),
                format!(
                    "duplicate phrase {:?} (same as line {first_line}; phrases are compared \
case-insensitively with whitespace collapsed)",
                    p.text
                ),
                Some("remove one of them".into()),
            );
            continue;
        }
        seen.insert(key.clone(), i);
        unique.push((i, padded(&key)));
    }
    // A phrase that contains another (as whole words) can never add a match: whenever
    // it is heard, the shorter phrase is heard too. Past the phrase limit the topic is
    // already an error, so the check is not run.
    if n > MAX_TOPIC_PHRASES {
        return;
    }
    let keys: Vec<&str> = unique.iter().map(|(_, k)| k.as_str()).collect();
    for ((a, _), inner) in unique.iter().zip(contained_keys(&keys)) {
        let Some(&(b, _)) = inner.first().and_then(|&j| unique.get(j)) else {
            continue;
        };
        let short_line = text_pos(ctx, b).0;
        ctx.warning(
            "topic.redundant-phrase",
            text_pos(ctx, *a),
            format!(
                "phrase {:?} contains phrase {:?} (line {short_line}), so it never adds a match",
                spec.phrases[*a].text, spec.phrases[b].text
            ),
            Some("remove the longer phrase, or make the shorter one more specific".into()),
        );
    }
}

/// Program rules that need only the document: non-empty, unique topic names.
pub fn program(ctx: &mut Ctx<'_>, spec: &ProgramSpec) {
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

/// Whether `s` looks like a BCP 47 language tag such as `en-US` or `pt-BR`.
fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let lang_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    lang_ok
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Speech rule rules from the origin tutorial: at most 100 phrases, no duplicates
/// (case-insensitive), no overlapping exact phrases, weights finite in [-1, 1],
/// regexes that compile.
pub fn speech_rule(ctx: &mut Ctx<'_>, spec: &SpeechRuleSpec) {
    common(ctx, &spec.name, spec.renamed_from.as_deref(), &spec.tags);
    if !is_language_tag(&spec.language) {
        ctx.error(
            "speechrule.language",
            ctx.pos(&[Seg::Key("language")]),
            format!("language {:?} is not a language tag", spec.language),
            Some("use a BCP 47 tag such as `en-US` (the default)".into()),
        );
    }
    let n = spec.phrases.len();
    if n == 0 {
        ctx.error(
            "speechrule.no-phrases",
            ctx.key_pos(&[Seg::Key("phrases")]),
            "a speech rule needs at least one phrase".into(),
            Some("add `- phrase: ...` under `phrases`".into()),
        );
    } else if n > MAX_RULE_PHRASES {
        ctx.error(
            "speechrule.too-many-phrases",
            ctx.key_pos(&[Seg::Key("phrases")]),
            format!("speech rule has {n} phrases; at most {MAX_RULE_PHRASES} are allowed"),
            Some("split the rule into several rules".into()),
        );
    }
    let phrase_pos = |ctx: &Ctx<'_>, i: usize| {
        ctx.pos(&[Seg::Key("phrases"), Seg::Index(i), Seg::Key("phrase")])
    };
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(n);
    let mut exact: Vec<(usize, String)> = Vec::new();
    for (i, p) in spec.phrases.iter().enumerate() {
        let key = phrase_key(&p.phrase);
        if key.is_empty() {
            ctx.error(
                "speechrule.phrase-empty",
                phrase_pos(ctx, i),
                "phrase must not be empty".into(),
                None,
            );
            continue;
        }
        if let Some(first) = seen.get(&key) {
            let first_line = phrase_pos(ctx, *first).0;
            ctx.error(
                "speechrule.duplicate-phrase",
                phrase_pos(ctx, i),
                format!(
                    "duplicate phrase {:?} (same as line {first_line}, compared case-insensitively)",
                    p.phrase
                ),
                Some("remove one of them".into()),
            );
            continue;
        }
        seen.insert(key.clone(), i);
        match p.match_type {
            MatchType::Exact => exact.push((i, key)),
            MatchType::Regex => {
                if let Err(e) = check_regex(&p.phrase) {
                    let detail = e
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("")
                        .trim()
                        .trim_start_matches("error: ")
                        .to_string();
                    ctx.error(
                        "speechrule.regex",
                        phrase_pos(ctx, i),
                        format!("regex {:?} does not compile: {detail}", p.phrase),
                        Some(
                            "check the syntax (Rust `regex` crate), or use matchType `exact`"
                                .into(),
                        ),
                    );
                }
            }
            MatchType::Fuzzy => {}
        }
    }
    // The tutorial rejects two exact phrases where one contains the other (plain
    // case-insensitive substring): the rule engine cannot tell which one scored.
    // Past the phrase limit the rule is already an error, so the check is not run.
    let keys: Vec<&str> = exact.iter().map(|(_, k)| k.as_str()).collect();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    if n <= MAX_RULE_PHRASES {
        for (x, inner) in contained_keys(&keys).into_iter().enumerate() {
            pairs.extend(inner.into_iter().map(|y| (x.min(y), x.max(y))));
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    for (x, y) in pairs {
        let (Some((a, _)), Some((b, _))) = (exact.get(x), exact.get(y)) else {
            continue;
        };
        let first_line = phrase_pos(ctx, *a).0;
        ctx.error(
            "speechrule.overlap",
            phrase_pos(ctx, *b),
            format!(
                "ambiguous phrase overlap: exact phrases {:?} and {:?} (line {first_line}) \
contain one another",
                spec.phrases[*b].phrase, spec.phrases[*a].phrase
            ),
            Some("remove the shorter phrase, reword one of them, or make one `fuzzy`".into()),
        );
    }
    for (i, s) in spec.scoring.iter().enumerate() {
        let pos = ctx.pos(&[Seg::Key("scoring"), Seg::Index(i), Seg::Key("value")]);
        if !s.value.is_finite() {
            ctx.error(
                "speechrule.weight",
                pos,
                format!("scoring weight {} is not a finite number", s.value),
                Some("use a number between -1.0 and 1.0".into()),
            );
        } else if !(-1.0..=1.0).contains(&s.value) {
            ctx.error(
                "speechrule.weight",
                pos,
                format!("scoring weight {} is outside -1.0 ..= 1.0", s.value),
                Some("use a number between -1.0 and 1.0".into()),
            );
        }
    }
}

/// Checks that a regex compiles. Parsing (regex-syntax) finds every syntax error and
/// unsupported feature in a few microseconds; building the matcher costs ~50 us, so it
/// is done only for patterns with counted repetitions, the one way a syntactically
/// valid pattern can still exceed the compiled-size limit.
fn check_regex(pattern: &str) -> Result<(), String> {
    // The syntax tree catches every error a pattern without escapes or flags can have;
    // translating it (which resolves classes such as `\p{Greek}` and flags such as
    // `(?-u)`) is only needed, and only done, when the pattern has either.
    if !pattern.contains('\\') && !pattern.contains("(?") {
        return regex_syntax::ast::parse::ParserBuilder::new()
            .nest_limit(64)
            .build()
            .parse(pattern)
            .map(|_| ())
            .map_err(|e| e.to_string())
            .and_then(|()| {
                if pattern.contains('{') {
                    regex::RegexBuilder::new(pattern)
                        .size_limit(1 << 20)
                        .build()
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                } else {
                    Ok(())
                }
            });
    }
    regex_syntax::ParserBuilder::new()
        .nest_limit(64)
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    if pattern.contains('{') {
        regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn at(entry: &Entry, pos: (u64, u64)) -> String {
    format!("{}:{}:{}", entry.file.display(), pos.0, pos.1)
}

/// Cross-tree rules. `entries` must be sorted by (kind, name, file, position).
/// Returns the indexes of entries to drop (later duplicates of a name).
pub fn tree(
    entries: &[Entry],
    broken: &[(Kind, String)],
    diags: &mut Vec<Diagnostic>,
) -> HashSet<usize> {
    let broken: HashSet<(Kind, &str)> = broken.iter().map(|(k, n)| (*k, n.as_str())).collect();
    let dropped = duplicate_names(entries, diags);
    // Names per kind, for renames and topic references.
    let mut by_name: HashMap<(Kind, &str), &Entry> = HashMap::with_capacity(entries.len());
    for (idx, e) in entries.iter().enumerate() {
        if !dropped.contains(&idx) {
            by_name.insert((e.object.kind(), e.object.name()), e);
        }
    }

    renamed_from(entries, &by_name, diags);
    program_topics(entries, &by_name, &broken, diags);
    dropped
}

/// Unique names per kind: entries are sorted, so duplicates are adjacent. Returns the
/// indexes of the later duplicates.
fn duplicate_names(entries: &[Entry], diags: &mut Vec<Diagnostic>) -> HashSet<usize> {
    let mut dropped = HashSet::new();
    let mut i = 0;
    while i < entries.len() {
        let first = &entries[i];
        let mut j = i + 1;
        while j < entries.len()
            && entries[j].object.kind() == first.object.kind()
            && entries[j].object.name() == first.object.name()
        {
            let dup = &entries[j];
            diags.push(Diagnostic::new(
                Severity::Error,
                "spec.duplicate-name",
                format!(
                    "duplicate {} name {:?}: also defined at {}",
                    first.object.kind(),
                    first.object.name(),
                    at(first, first.name_pos)
                ),
                &dup.file,
                dup.name_pos,
                Some(format!(
                    "names are unique per kind; rename or remove one of the two (first at {})",
                    at(first, first.name_pos)
                )),
            ));
            dropped.insert(j);
            j += 1;
        }
        i = j;
    }
    dropped
}

/// `renamedFrom` must name a spec that no longer exists, and only one spec may claim it.
fn renamed_from(
    entries: &[Entry],
    by_name: &HashMap<(Kind, &str), &Entry>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut claimed: HashMap<(Kind, &str), &Entry> = HashMap::new();
    for e in entries {
        let Some(old) = e.renamed_from.as_deref() else {
            continue;
        };
        if old.trim().is_empty() || old == e.object.name() {
            continue; // reported by the per-spec checks
        }
        let kind = e.object.kind();
        if let Some(other) = by_name.get(&(kind, old)) {
            diags.push(Diagnostic::new(
                Severity::Error,
                "spec.renamed-from-exists",
                format!(
                    "renamedFrom {old:?} is still the name of a {kind} spec at {}",
                    at(other, other.name_pos)
                ),
                &e.file,
                e.renamed_from_pos,
                Some("a rename moves the old object; delete or rename the other spec, or drop `renamedFrom`".into()),
            ));
        }
        if let Some(other) = claimed.get(&(kind, old)) {
            diags.push(Diagnostic::new(
                Severity::Error,
                "spec.renamed-from-twice",
                format!(
                    "renamedFrom {old:?} is also claimed by {:?} at {}",
                    other.object.name(),
                    at(other, other.renamed_from_pos)
                ),
                &e.file,
                e.renamed_from_pos,
                Some("only one spec can take over an old name".into()),
            ));
        } else {
            claimed.insert((kind, old), e);
        }
    }
}

/// Program topic references resolve, and at most 500 topics per dialect.
fn program_topics(
    entries: &[Entry],
    by_name: &HashMap<(Kind, &str), &Entry>,
    broken: &HashSet<(Kind, &str)>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut topic_names: Vec<&str> = Vec::new();
    for e in entries {
        let Object::Program(program) = &e.object else {
            continue;
        };
        let mut per_dialect: HashMap<&str, usize> = HashMap::new();
        let mut counted: HashSet<&str> = HashSet::new();
        for (name, pos) in &e.topic_refs {
            if name.trim().is_empty() {
                continue; // reported by the per-spec checks
            }
            match by_name.get(&(Kind::Topic, name.as_str())) {
                Some(t) => {
                    if let Object::Topic(topic) = &t.object
                        && counted.insert(name.as_str())
                    {
                        *per_dialect.entry(topic.dialect.as_str()).or_default() += 1;
                    }
                }
                None if broken.contains(&(Kind::Topic, name.as_str())) => {}
                None => {
                    if topic_names.is_empty() {
                        topic_names = entries
                            .iter()
                            .filter(|t| t.object.kind() == Kind::Topic)
                            .map(|t| t.object.name())
                            .collect();
                    }
                    let hint = match yaml::closest(name, topic_names.iter().copied()) {
                        Some(c) => format!("did you mean {c:?}?"),
                        None => "every topic a program lists must be a Topic spec in this tree"
                            .to_string(),
                    };
                    diags.push(Diagnostic::new(
                        Severity::Error,
                        "program.unknown-topic",
                        format!(
                            "program {:?} references topic {name:?}, which is not defined",
                            program.name
                        ),
                        &e.file,
                        *pos,
                        Some(hint),
                    ));
                }
            }
        }
        let mut over: Vec<_> = per_dialect
            .into_iter()
            .filter(|(_, n)| *n > MAX_PROGRAM_TOPICS_PER_DIALECT)
            .collect();
        over.sort();
        for (dialect, n) in over {
            diags.push(Diagnostic::new(
                Severity::Error,
                "program.too-many-topics",
                format!(
                    "program {:?} has {n} {dialect} topics; Genesys allows at most \
{MAX_PROGRAM_TOPICS_PER_DIALECT} per dialect",
                    program.name
                ),
                &e.file,
                e.topics_pos,
                Some("split the program into several programs".into()),
            ));
        }
    }
}

#[cfg(test)]
mod regex_tests {
    use super::check_regex;

    #[test]
    fn invalid_patterns_are_rejected_with_or_without_escapes() {
        for bad in [
            "[z-a]",
            "a{5,2}",
            "(unclosed",
            "a)",
            "\\p{NoSuchClass}",
            "(?z)x",
            "x{99999999}",
        ] {
            assert!(check_regex(bad).is_err(), "{bad} must be rejected");
        }
        for good in [
            "account (number|id) 123",
            "card [0-9]{4}",
            "\\bcancel\\b",
            "(?i)refund",
            "a|b|c",
        ] {
            assert!(check_regex(good).is_ok(), "{good} must be accepted");
        }
    }
}

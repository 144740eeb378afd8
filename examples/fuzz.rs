//! A long fuzz run on stable Rust: the spec loader and the client's response decoders
//! under millions of generated inputs (figures go to docs/reliability.md).
//!
//! ```sh
//! cargo run --release --example fuzz -- 1000000        # inputs per target, seed 1
//! cargo run --release --example fuzz -- 1000000 42     # another seed
//! ```
//!
//! cargo-fuzz needs a nightly toolchain, which this project cannot install; so this is a
//! mutation fuzzer without coverage feedback: it starts from real inputs (the example
//! rules, the schema's shapes, SDK-shaped responses), applies random byte and token
//! mutations and splices, and calls the same entry points the binary uses
//! (`spec::load::load_bytes`, `genesys::client::decode_any_response`). Every input runs
//! under `catch_unwind`; a panic is written to `target/fuzz-crashes/` and counted, and
//! the run exits 1 if there was any. Deterministic for a seed.

use std::path::PathBuf;
use std::time::Instant;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use speechops::spec::load::{FileResult, Found, load_bytes};

/// xorshift64*: deterministic and fast enough to keep the targets the bottleneck.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const YAML_TOKENS: &[&str] = &[
    "&a ",
    "*a",
    "<<: *a\n",
    "!!str ",
    "!!binary ",
    "!custom ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "---\n",
    "...\n",
    "\t",
    "  ",
    "\n",
    ": ",
    "- ",
    "? ",
    "|\n  ",
    ">-\n  ",
    "'",
    "\"",
    "\\u0000",
    "#",
    "%YAML 1.2\n",
    "1e309",
    "-0",
    "0x1F",
    ".nan",
    "~",
    "null",
    "true",
    "\u{feff}",
    "\u{1F600}",
    "kind: Topic\n",
    "kind: Program\n",
    "kind: SpeechRule\n",
    "phrases:\n",
    "  - text: x\n",
    "strictness: 72\n",
    "topics: [a, a]\n",
    "renamedFrom: x\n",
    "matchType: regex\n",
    "phrase: '(a{1000}){1000}'\n",
    "value: 1e400\n",
    "name: \n",
];

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "false",
    "-1",
    "1e400",
    "0.5",
    "18446744073709551616",
    "\"\\ud800\"",
    "\"entities\":",
    "\"nextUri\":",
    "\"phrases\":",
    "\"state\":\"Failed\"",
    "\"pageCount\":",
    "\"message\":",
    "\"details\":[{}]",
    "\"isAIGenerated\":",
    "\"matchingType\":\"Semantic\"",
    "\"nextUri\":\"http://[::1\"",
    "\"nextUri\":\"/admin?x\"",
];

const HEADER_NAMES: &[&str] = &[
    "inin-ratelimit-count",
    "inin-ratelimit-allowed",
    "inin-ratelimit-reset",
    "retry-after",
    "inin-correlation-id",
];

const HEADER_VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "1e20",
    "1e308",
    "NaN",
    "inf",
    "18446744073709551615",
    "0.5",
    "",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "300",
    "60",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], tokens: &[&str]) -> Vec<u8> {
    let mut data = rng.pick(seeds).clone();
    for _ in 0..=rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            2 => {
                let token = rng.pick(tokens).as_bytes();
                data.splice(at..at, token.iter().copied());
            }
            3 if !data.is_empty() => {
                // Duplicate a chunk (repetition finds quadratic behaviour and depth limits).
                let start = rng.below(data.len());
                let end = (start + rng.below(64)).min(data.len());
                let chunk: Vec<u8> = data[start..end].to_vec();
                for _ in 0..rng.below(20) {
                    data.splice(at..at, chunk.iter().copied());
                }
            }
            4 => {
                // Splice in part of another seed.
                let other = rng.pick(seeds);
                let start = rng.below(other.len());
                let end = (start + rng.below(128)).min(other.len());
                data.splice(at..at, other[start..end].iter().copied());
            }
            5 => {
                let byte = rng.next() as u8;
                data.insert(at, byte);
            }
            _ => {
                let n = rng.below(data.len() + 1);
                data.truncate(n);
            }
        }
    }
    data
}

fn spec_seeds() -> Vec<Vec<u8>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut seeds = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                seeds.push(b);
            }
        }
    }
    seeds.sort();
    seeds.push(b"kind: Topic\nname: a\ndialect: en-US\nphrases: [{text: a}]\n".to_vec());
    seeds.push(b"base: &b {x: 1}\nother:\n  <<: *b\n".to_vec());
    seeds
}

fn response_seeds() -> Vec<Vec<u8>> {
    [
        r#"{"entities":[{"id":"1","name":"T","published":true,"strictness":"72","matchingType":"Lexical","programsCount":0,"tags":[],"dialect":"en-US","participants":"All","phrasesCount":1,"dateModified":"2026-01-01T00:00:00.000Z","selfUri":"/x"}],"pageSize":25,"total":1,"pageCount":1,"selfUri":"/x"}"#,
        r#"{"id":"1","name":"T","description":"d","published":false,"strictness":"55","matchingType":"Semantic","programs":[{"id":"p","name":"P","selfUri":"/p"}],"tags":["a"],"dialect":"en-GB","participants":"Internal","phrases":[{"text":"hi","strictness":"90","sentiment":"Positive","isAIGenerated":true}],"dateModified":"2026-01-01T00:00:00.000Z"}"#,
        r#"{"entities":[{"id":"p","name":"P","published":true,"topicsCount":3,"tags":[]}],"pageSize":20,"total":45,"pageCount":3,"nextUri":"/api/v2/speechandtextanalytics/programs?pageSize=20&nextPage=p%2Babc","selfUri":"/x"}"#,
        r#"{"id":"p","name":"P","topics":[{"id":"1","name":"T"}],"tags":[],"published":true}"#,
        r#"{"id":"j","state":"Running","topics":[{"id":"1"}]}"#,
        r#"{"message":"Name is required","code":"bad.request","status":400,"contextId":"c","details":[{"errorCode":"x","fieldName":"name"}],"errors":[]}"#,
        r#"{"entities":[{"id":"r","name":"R","phrases":[{"phrase":"a","matchType":"exact"}],"scoring":[{"type":"additive","value":0.5}]}],"pageNumber":1,"pageCount":1}"#,
        r#"{"entities":[{"id":"c","name":"C","interactionType":"Voice","criteria":{"type":"OperandGroup","operands":[{"type":"Topic","topicId":"t","infixOperator":{"operatorType":"Near","operatorPosition":{"voiceSecondsPosition":30}}},{"type":"Term","occurrence":1,"term":{"word":"w","participantType":"External"}}]}}],"pageSize":25,"pageNumber":1,"total":1,"pageCount":1}"#,
        r#"{"id":"d","term":"Acme","dialect":"en-GB","boostValue":3.5,"examplePhrases":[{"phrase":"I like Acme a lot","source":"Manual"}],"soundsLike":["akme"],"status":"Active"}"#,
        r#"{"entities":[{"id":"s","phrase":"not bad","dialect":"en-US","feedbackValue":"Positive","dateCreated":"2026-01-01T00:00:00.000Z"}]}"#,
        r#"{"defaultProgram":{"id":"p","selfUri":"/p"},"expectedDialects":["en-US"],"textAnalyticsEnabled":true,"agentEmpathyEnabled":false}"#,
        "<html>502 Bad Gateway</html>",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn crash(dir: &PathBuf, target: &str, n: u64, input: &[u8]) {
    let _ = std::fs::create_dir_all(dir);
    let path = dir.join(format!("{target}-{n}"));
    let _ = std::fs::write(&path, input);
    eprintln!("PANIC in {target}: input saved to {}", path.display());
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let crashes = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
    // Panics are caught and reported once each, not printed by the default hook.
    std::panic::set_hook(Box::new(|_| {}));
    let mut panics = 0u64;

    let found = Found {
        rel: "fuzz.yaml".into(),
        display: PathBuf::from("fuzz.yaml"),
    };
    let seeds = spec_seeds();
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let started = Instant::now();
    let (mut diagnostics, mut specs) = (0u64, 0u64);
    for n in 0..runs {
        let input = mutate(&mut rng, &seeds, YAML_TOKENS);
        match std::panic::catch_unwind(|| load_bytes(&found, &input, FileResult::default())) {
            Ok(r) => {
                diagnostics += r.diagnostics.len() as u64;
                specs += r.entries.len() as u64;
            }
            Err(_) => {
                panics += 1;
                crash(&crashes, "spec", n, &input);
            }
        }
    }
    println!(
        "spec loader: {runs} inputs in {:.1} s, {specs} specs loaded, {diagnostics} diagnostics, {panics} panics (seed {seed})",
        started.elapsed().as_secs_f64()
    );

    let seeds = response_seeds();
    let started = Instant::now();
    let mut response_panics = 0u64;
    let mut decoded = 0u64;
    for n in 0..runs {
        let body = mutate(&mut rng, &seeds, JSON_TOKENS);
        let status = *rng.pick(&[200u16, 201, 204, 400, 401, 404, 409, 429, 500, 503, 599]);
        let mut headers = HeaderMap::new();
        for _ in 0..rng.below(5) {
            let name: &&'static str = rng.pick(HEADER_NAMES);
            let name = HeaderName::from_static(name);
            let value = if rng.below(3) == 0 {
                rng.next().to_string()
            } else {
                (*rng.pick(HEADER_VALUES)).to_string()
            };
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        match std::panic::catch_unwind(|| {
            speechops::genesys::client::decode_any_response(status, &headers, &body)
        }) {
            Ok(d) => decoded += d as u64,
            Err(_) => {
                response_panics += 1;
                crash(&crashes, "response", n, &body);
            }
        }
    }
    println!(
        "response decoders: {runs} inputs in {:.1} s, {decoded} decodes, {response_panics} panics (seed {seed})",
        started.elapsed().as_secs_f64()
    );
    if panics + response_panics > 0 {
        std::process::exit(1);
    }
}

//! The hash-chained JSONL audit log (SPEC 7) and its verifier.

//! The kinds the sandbox serves, one module each. A module holds only what is that
//! kind's own: its request validation (written from the SDK's request models, never
//! from the client's types), its response shape, and the checks that involve other
//! kinds. Everything else (storage, paging, identity conflicts, publish jobs,
//! persistence, routes) is the generic collection's (`collection.rs`).

pub mod category;
pub mod dictionary_feedback;
pub mod program;
pub mod sentiment_feedback;
pub mod settings;
pub mod speech_rule;
pub mod topic;

use super::collection::Resource;

/// The sandbox registry line: every kind served, in route order.
pub static ALL: &[&Resource] = &[
    &topic::RESOURCE,
    &program::RESOURCE,
    &speech_rule::RESOURCE,
    &category::RESOURCE,
    &sentiment_feedback::RESOURCE,
    &dictionary_feedback::RESOURCE,
    &settings::RESOURCE,
];

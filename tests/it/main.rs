//! The one integration test binary: drives the real `speechops` binary.
//! One module per feature; shared helpers in `support`.

mod support;

mod adoption;
mod apply;
mod audit;
mod client;
mod detection;
mod faults;
mod gitops;
mod hostile;
mod plan;
mod review;
mod sandbox;
mod semantics;
mod sta;
mod state;
mod validate;

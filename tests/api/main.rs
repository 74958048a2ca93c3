//! The integration suite, one test binary: every module starts the real server (or opens the
//! registry) on its own database and calls it as a client would. One binary rather than one
//! per file: the harness and the dependencies are compiled and linked once.
//!
//! Run one part with a filter, e.g. `cargo test --test api record::`.

mod common;

mod access;
mod caching;
mod change_feed;
mod editing;
mod example_registry;
mod fan_out;
mod faults;
mod fuzz;
mod harness;
mod hostile;
mod http;
mod limits;
mod migrations;
mod notice_faults;
mod notices;
mod pages;
mod public_surfaces;
mod record;
mod registry_api;
mod registry_code;
mod transfers;

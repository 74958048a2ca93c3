//! The record of processing activities (GDPR Art. 30): its model and its exports.

pub mod build;
pub mod export;
pub mod findings;
pub mod model;
pub mod state;

pub use crate::settings::FindingOptions;
pub use build::build;
pub use export::retention_words;

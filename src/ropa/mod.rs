//! The record of processing activities (GDPR Art. 30): its model and its exports.

pub mod export;
pub mod model;

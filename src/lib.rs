//! Subreg: a registry of everyone who receives personal data from an organization, its data
//! flows and transfers, served over GraphQL.
//!
//! Layers, with arrows pointing one way: [`graphql`] translates GraphQL to calls on
//! [`registry`], which validates, is the only writer, and reads and writes the `entity` models.
//! Every layer reads its tunable values from [`settings`], which depends on none of them.

pub mod app;
pub mod changes;
pub mod config;
pub mod db;
pub mod graphql;
pub mod manifest;
pub mod metrics;
pub mod notices;
pub mod reference;
pub mod registry;
pub mod ropa;
pub mod seed;
pub mod server;
pub mod settings;

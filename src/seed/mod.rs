//! The example registry shipped in `data/registry.yaml`.

pub mod format;

//! Fides (fideslang) manifests: export and import.

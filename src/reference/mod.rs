//! Reference data for transfer rules: countries, the EEA, the three transfer regimes and
//! their adequacy decisions.
//!
//! Countries and the regimes' instruments are code. The adequacy decisions are a readable data
//! file, `data/adequacy.yaml`, compiled into the binary: a release pairs the rules with the
//! decisions they were tested against, and the file's history is the answer to "why did the
//! registry say this transfer was covered on that date?". An operator can point the server at
//! an updated copy (`--adequacy-file`) when a decision is adopted, renewed or struck down
//! before the next release; the loader checks its rules (every date backed by a cited source)
//! before the server starts on it.
//!
//! Decisions are kept with their dates rather than as a "currently adequate" list, so a
//! transfer can be assessed as of the day it took place.

mod adequacy;
mod countries;
mod regime;

pub use adequacy::{
    AdequacyDecision, AdequacyScope, AdequacyTable, Amendment, BUILTIN as BUILTIN_ADEQUACY,
    EU_US_DPF, Importer, Source,
};
pub use countries::{Country, EEA, country, is_eea};
pub use regime::Regime;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    // Exercises the re-exported API the way a transfer rule would use it.
    #[test]
    fn classifies_destinations_through_the_public_api() {
        let on = NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date");
        let table = AdequacyTable::builtin();
        let classify = |code: &str| match country(code) {
            None => "unknown",
            Some(c) if Regime::EuGdpr.free_flow(c.alpha2) => "eea",
            Some(c) if table.decision(Regime::EuGdpr, c.alpha2, on).is_some() => "adequate",
            Some(_) => "third country",
        };
        assert_eq!(classify("NL"), "eea");
        assert_eq!(classify("CH"), "adequate");
        assert_eq!(classify("GB"), "adequate");
        assert_eq!(classify("US"), "adequate");
        assert_eq!(classify("IN"), "third country");
        assert_eq!(classify("nl"), "unknown");
        assert_eq!(EEA.len(), 30);
        let dpf: &AdequacyDecision = table.decision(Regime::EuGdpr, "US", on).expect("DPF");
        assert_eq!(dpf.scope, AdequacyScope::CertifiedOrganisations);
        let _: Country = country("US").expect("US");
    }
}

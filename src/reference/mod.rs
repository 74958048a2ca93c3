//! Reference data for transfer rules: countries, the EEA, and the European
//! Commission's adequacy decisions.
//!
//! This data lives in code rather than in the database or a downloaded file
//! on purpose. Whether a data flow is a restricted transfer, and whether it
//! can rest on an adequacy decision, depends on these tables as much as on the
//! rules that read them, so they are versioned together: a release of the
//! registry always pairs a set of rules with the exact data they were tested
//! against. A change here (a new decision, a judgment striking one down) is a
//! reviewed code change with tests and a history in version control, not a
//! silent edit to a row — which is also what an auditor asking "why did the
//! registry say this transfer was covered on that date?" needs to see.
//!
//! Decisions are kept with their dates rather than as a "currently adequate"
//! list, so a transfer can be assessed as of the day it took place.

mod adequacy;
mod countries;

pub use adequacy::{
    AdequacyDecision, AdequacyScope, adequacy_decision, adequacy_decisions, has_adequacy,
};
pub use countries::{Country, EEA, country, is_eea};

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    // Exercises the re-exported API the way a transfer rule would use it.
    #[test]
    fn classifies_destinations_through_the_public_api() {
        let on = NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date");
        let classify = |code: &str| match country(code) {
            None => "unknown",
            Some(c) if is_eea(c.alpha2) => "eea",
            Some(c) if has_adequacy(c.alpha2, on) => "adequate",
            Some(_) => "third country",
        };
        assert_eq!(classify("NL"), "eea");
        assert_eq!(classify("CH"), "adequate");
        assert_eq!(classify("GB"), "adequate");
        assert_eq!(classify("US"), "adequate");
        assert_eq!(classify("IN"), "third country");
        assert_eq!(classify("nl"), "unknown");
        assert_eq!(EEA.len(), 30);
        assert!(
            adequacy_decisions()
                .iter()
                .any(|d| d.scope == AdequacyScope::Full)
        );
        let dpf: &AdequacyDecision = adequacy_decision("US", on).expect("DPF");
        assert_eq!(dpf.scope, AdequacyScope::CertifiedOrganisations);
        let _: Country = country("US").expect("US");
    }
}

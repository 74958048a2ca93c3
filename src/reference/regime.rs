//! The three transfer regimes an exporter can be under, and what each one allows.
//!
//! A transfer's regime is the law of the exporter's country: the EU GDPR for an exporter in
//! the EEA, the UK GDPR for one in the United Kingdom, the Swiss FADP for one in
//! Switzerland. Each has its own free-flow area (where data goes without a Chapter V
//! mechanism), its own adequacy list (see [`super::AdequacyTable`]) and its own instruments:
//! the EU's standard contractual clauses (Decision 2021/914) exist under the EU GDPR and, with
//! the FDPIC's amendments, under the FADP; the UK's International Data Transfer Agreement and
//! its Addendum to the EU clauses exist only under the UK GDPR.

use super::countries::is_eea;
use entity::{Derogation, TransferMechanism};
use serde::{Deserialize, Serialize};

/// The law a transfer is made under: the exporter's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Regime {
    /// Regulation (EU) 2016/679, Chapter V: an exporter in the EEA.
    EuGdpr,
    /// The UK GDPR, Chapter V, and the Data Protection Act 2018: an exporter in the UK.
    UkGdpr,
    /// The Swiss Federal Act on Data Protection, Art. 16-17: an exporter in Switzerland.
    SwissFadp,
}

impl Regime {
    pub const ALL: [Regime; 3] = [Regime::EuGdpr, Regime::UkGdpr, Regime::SwissFadp];

    /// The regime of an exporter established in `country`, if it is one of the three: the
    /// EEA states, the United Kingdom, Switzerland.
    pub fn of_country(country: &str) -> Option<Regime> {
        match country {
            "GB" => Some(Regime::UkGdpr),
            "CH" => Some(Regime::SwissFadp),
            c if is_eea(c) => Some(Regime::EuGdpr),
            _ => None,
        }
    }

    /// The regime's short name, as messages and exports write it.
    pub fn name(self) -> &'static str {
        match self {
            Regime::EuGdpr => "EU GDPR",
            Regime::UkGdpr => "UK GDPR",
            Regime::SwissFadp => "Swiss FADP",
        }
    }

    /// Whether data may go to `country` without a transfer mechanism under this regime: the
    /// EEA under the EU GDPR (Art. 1(3)); only the United Kingdom itself under the UK GDPR and
    /// only Switzerland under the FADP, whose adequacy lists cover the EEA instead.
    pub fn free_flow(self, country: &str) -> bool {
        match self {
            Regime::EuGdpr => is_eea(country),
            Regime::UkGdpr => country == "GB",
            Regime::SwissFadp => country == "CH",
        }
    }

    /// The free-flow area in words.
    pub fn free_flow_area(self) -> &'static str {
        match self {
            Regime::EuGdpr => "the EEA",
            Regime::UkGdpr => "the United Kingdom",
            Regime::SwissFadp => "Switzerland",
        }
    }

    /// The provision that lists the derogations for specific situations.
    pub fn derogations(self) -> &'static str {
        match self {
            Regime::EuGdpr => "Art. 49 GDPR",
            Regime::UkGdpr => "Art. 49 UK GDPR",
            Regime::SwissFadp => "Art. 17 FADP",
        }
    }

    /// The provision an adequacy finding rests on.
    pub fn adequacy(self) -> &'static str {
        match self {
            Regime::EuGdpr => "Art. 45 GDPR",
            Regime::UkGdpr => "Art. 45 UK GDPR and s. 17A Data Protection Act 2018",
            Regime::SwissFadp => "Art. 16(1) FADP and Annex 1 DPO",
        }
    }

    /// What `mechanism` is under this regime (the provision it rests on), or why it does not
    /// exist there.
    pub fn instrument(self, mechanism: TransferMechanism) -> Result<&'static str, String> {
        use TransferMechanism::*;
        let name = self.name();
        match (self, mechanism) {
            (_, AdequacyDecision) => Ok(self.adequacy()),
            (_, Derogation) => Ok(self.derogations()),
            (Regime::EuGdpr, StandardContractualClauses) => {
                Ok("Art. 46(2)(c) GDPR, Decision (EU) 2021/914")
            }
            (Regime::SwissFadp, StandardContractualClauses) => Ok(
                "Art. 16(2)(d) FADP: the EU clauses (2021/914) with the amendments the FDPIC set on 27 August 2021",
            ),
            (Regime::UkGdpr, StandardContractualClauses) => Err(format!(
                "the EU standard contractual clauses alone are no transfer instrument under the {name}: use them with the UK Addendum (UK_ADDENDUM) or use the UK International Data Transfer Agreement (UK_IDTA)"
            )),
            (Regime::UkGdpr, UkIdta) => {
                Ok("Art. 46(2)(d) UK GDPR, s. 119A Data Protection Act 2018 (IDTA)")
            }
            (Regime::UkGdpr, UkAddendum) => Ok(
                "Art. 46(2)(d) UK GDPR, s. 119A Data Protection Act 2018 (Addendum to the EU clauses)",
            ),
            (_, UkIdta | UkAddendum) => Err(format!(
                "the UK International Data Transfer Agreement and the UK Addendum are instruments of the UK GDPR and do not exist under the {name}, the exporter's regime: use {}",
                match self {
                    Regime::SwissFadp =>
                        "the EU standard contractual clauses with the Swiss amendments",
                    _ => "the EU standard contractual clauses (2021/914)",
                }
            )),
            (Regime::EuGdpr, BindingCorporateRules) => Ok("Art. 47 GDPR"),
            (Regime::UkGdpr, BindingCorporateRules) => Ok("Art. 47 UK GDPR"),
            (Regime::SwissFadp, BindingCorporateRules) => Ok("Art. 16(2)(e) FADP"),
            (Regime::EuGdpr, CodeOfConduct) => Ok("Art. 46(2)(e) GDPR"),
            (Regime::UkGdpr, CodeOfConduct) => Ok("Art. 46(2)(e) UK GDPR"),
            (Regime::EuGdpr, Certification) => Ok("Art. 46(2)(f) GDPR"),
            (Regime::UkGdpr, Certification) => Ok("Art. 46(2)(f) UK GDPR"),
            (Regime::SwissFadp, CodeOfConduct) => Ok(
                "Art. 16(3) FADP and Art. 12 DPO (a code of conduct approved by the FDPIC, with a binding commitment of the importer)",
            ),
            (Regime::SwissFadp, Certification) => Ok(
                "Art. 16(3) FADP and Art. 12 DPO (a certification, with a binding commitment of the importer)",
            ),
            (Regime::EuGdpr, AdHocClauses) => Ok("Art. 46(3)(a) GDPR"),
            (Regime::UkGdpr, AdHocClauses) => Ok("Art. 46(3)(a) UK GDPR"),
            (Regime::SwissFadp, AdHocClauses) => Ok("Art. 16(2)(b) FADP"),
        }
    }

    /// The provision a derogation is under this regime ("Art. 49(1)(b) GDPR", "Art. 17(1)(b)
    /// FADP"), or why the regime has no such derogation. The FADP's Art. 17(1) has no
    /// counterpart of the GDPR's compelling legitimate interests; its letter e (data the data
    /// subject made generally accessible) has none in the registry.
    pub fn derogation(self, derogation: Derogation) -> Result<String, String> {
        use Derogation::*;
        let gdpr_point = match derogation {
            ExplicitConsent => "49(1)(a)",
            ContractWithDataSubject => "49(1)(b)",
            ContractInDataSubjectInterest => "49(1)(c)",
            ImportantPublicInterest => "49(1)(d)",
            LegalClaims => "49(1)(e)",
            VitalInterests => "49(1)(f)",
            PublicRegister => "49(1)(g)",
            CompellingLegitimateInterests => "49(1), second subparagraph,",
        };
        match self {
            Regime::EuGdpr => Ok(format!("Art. {gdpr_point} GDPR")),
            Regime::UkGdpr => Ok(format!("Art. {gdpr_point} UK GDPR")),
            Regime::SwissFadp => match derogation {
                ExplicitConsent => Ok("Art. 17(1)(a) FADP".to_owned()),
                ContractWithDataSubject => Ok("Art. 17(1)(b)(1) FADP".to_owned()),
                ContractInDataSubjectInterest => Ok("Art. 17(1)(b)(2) FADP".to_owned()),
                ImportantPublicInterest => Ok("Art. 17(1)(c)(1) FADP".to_owned()),
                LegalClaims => Ok("Art. 17(1)(c)(2) FADP".to_owned()),
                VitalInterests => Ok("Art. 17(1)(d) FADP".to_owned()),
                PublicRegister => Ok("Art. 17(1)(f) FADP".to_owned()),
                CompellingLegitimateInterests => Err(
                    "the Swiss FADP has no derogation for compelling legitimate interests (Art. 17(1) lists its exceptions): use another exception or appropriate safeguards".to_owned(),
                ),
            },
        }
    }

    /// Whether `mechanism` takes an SCC module under this regime: the EU clauses (alone, with
    /// the Swiss amendments, or under the UK Addendum, whose Table 2 selects their modules).
    pub fn takes_scc_module(self, mechanism: TransferMechanism) -> bool {
        matches!(
            (self, mechanism),
            (
                Regime::EuGdpr | Regime::SwissFadp,
                TransferMechanism::StandardContractualClauses
            ) | (Regime::UkGdpr, TransferMechanism::UkAddendum)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn the_exporters_country_sets_the_regime() {
        assert_eq!(Regime::of_country("NL"), Some(Regime::EuGdpr));
        assert_eq!(Regime::of_country("NO"), Some(Regime::EuGdpr));
        assert_eq!(Regime::of_country("GB"), Some(Regime::UkGdpr));
        assert_eq!(Regime::of_country("CH"), Some(Regime::SwissFadp));
        assert_eq!(Regime::of_country("US"), None);
    }

    #[test]
    fn each_regime_has_its_free_flow_area() {
        assert!(Regime::EuGdpr.free_flow("IE") && !Regime::EuGdpr.free_flow("GB"));
        assert!(Regime::UkGdpr.free_flow("GB") && !Regime::UkGdpr.free_flow("IE"));
        assert!(Regime::SwissFadp.free_flow("CH") && !Regime::SwissFadp.free_flow("DE"));
    }

    #[test]
    fn each_regime_cites_its_own_derogations() {
        assert_eq!(
            Regime::EuGdpr
                .derogation(Derogation::ContractInDataSubjectInterest)
                .unwrap(),
            "Art. 49(1)(c) GDPR"
        );
        assert_eq!(
            Regime::UkGdpr
                .derogation(Derogation::ExplicitConsent)
                .unwrap(),
            "Art. 49(1)(a) UK GDPR"
        );
        assert_eq!(
            Regime::SwissFadp
                .derogation(Derogation::ContractInDataSubjectInterest)
                .unwrap(),
            "Art. 17(1)(b)(2) FADP"
        );
        assert!(
            Regime::SwissFadp
                .derogation(Derogation::CompellingLegitimateInterests)
                .is_err()
        );
    }

    #[test]
    fn uk_instruments_exist_only_under_the_uk_gdpr() {
        use TransferMechanism::*;
        for mechanism in [UkIdta, UkAddendum] {
            assert!(Regime::UkGdpr.instrument(mechanism).is_ok());
            let refused = Regime::EuGdpr.instrument(mechanism).unwrap_err();
            assert!(refused.contains("EU GDPR"), "{refused}");
            assert!(Regime::SwissFadp.instrument(mechanism).is_err());
        }
        let refused = Regime::UkGdpr
            .instrument(StandardContractualClauses)
            .unwrap_err();
        assert!(refused.contains("UK GDPR"), "{refused}");
        for mechanism in TransferMechanism::iter() {
            assert!(
                Regime::EuGdpr.instrument(mechanism).is_ok()
                    || matches!(mechanism, UkIdta | UkAddendum)
            );
        }
    }
}

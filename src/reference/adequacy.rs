//! European Commission adequacy decisions (GDPR Art. 45).
//!
//! An adequacy decision lets personal data flow from the EEA to a third country
//! without further safeguards such as SCCs. Decisions adopted under Directive
//! 95/46/EC, Art. 25(6), stay in force under GDPR Art. 45(9) until amended,
//! replaced or repealed, so they are listed alongside the GDPR-era ones.
//!
//! The table keeps history, not just the current list: a transfer has to be
//! judged against the law on the day it happened, and the US in particular has
//! had three successive decisions, two of them struck down by the CJEU.
//!
//! Not listed: decisions under the Law Enforcement Directive (e.g. the UK's
//! 2021/1773), which do not cover transfers by controllers under the GDPR, and
//! decisions for international organisations, which have no country code.

use chrono::NaiveDate;

/// Which recipients in the country an adequacy decision covers.
///
/// A transfer relies on the decision only if the recipient is within its
/// scope; otherwise it needs another Chapter V basis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdequacyScope {
    /// The country's general data protection law, without a restriction on
    /// the kind of recipient. Individual decisions may still exclude narrow
    /// areas; see the notes on each entry in [`adequacy_decisions`].
    Full,
    /// Only organisations subject to the country's private-sector law when
    /// acting in the course of commercial activities (Canada: recipients
    /// subject to PIPEDA).
    CommercialOrganisations,
    /// Only organisations that have self-certified to a framework and appear
    /// on its public list (US: Safe Harbour, Privacy Shield, and now the
    /// EU-US Data Privacy Framework). Check the recipient's certification is
    /// active and covers the data concerned (e.g. HR data).
    CertifiedOrganisations,
}

/// One adequacy decision and the period in which it could be relied on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdequacyDecision {
    /// ISO 3166-1 alpha-2 code of the country or territory covered (e.g. `"JP"`).
    pub country: &'static str,
    /// Official citation of the decision, e.g.
    /// `"Commission Implementing Decision (EU) 2023/1795"`.
    pub reference: &'static str,
    /// Short human-readable name, e.g. `"EU-US Data Privacy Framework"`.
    pub title: &'static str,
    /// Date the Commission adopted the decision (the "of …" date in its
    /// title, not the date of publication in the Official Journal).
    pub adopted: NaiveDate,
    /// First day on which the decision could no longer be relied on
    /// (invalidated by the CJEU, expired, or replaced); `None` while in force.
    /// The decision covers days strictly before this date.
    pub in_force_until: Option<NaiveDate>,
    /// Which recipients the decision covers.
    pub scope: AdequacyScope,
}

impl AdequacyDecision {
    /// Whether the decision could be relied on for a transfer made on `on`.
    fn in_force_on(&self, on: NaiveDate) -> bool {
        self.adopted <= on && self.in_force_until.is_none_or(|until| on < until)
    }
}

// Evaluated at compile time in the table below, so a mistyped date is a build
// error rather than a panic at run time.
const fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(d) => d,
        None => panic!("invalid date in adequacy table"),
    }
}

/// Grouped by country, oldest first within a country. Dates are those in the
/// decisions' titles; sources: the Official Journal citations of each decision
/// and the CJEU judgments in C-362/14 and C-311/18.
static DECISIONS: [AdequacyDecision; 18] = [
    // Andorra.
    AdequacyDecision {
        country: "AD",
        reference: "Commission Decision 2010/625/EU",
        title: "Andorra",
        adopted: date(2010, 10, 19),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
    // Argentina.
    AdequacyDecision {
        country: "AR",
        reference: "Commission Decision 2003/490/EC",
        title: "Argentina",
        adopted: date(2003, 6, 30),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
    // Brazil: covers both private and public sectors under the LGPD. Number and
    // date taken from the Official Journal listing (published 28 January 2026).
    AdequacyDecision {
        country: "BR",
        reference: "Commission Implementing Decision (EU) 2026/179",
        title: "Brazil",
        adopted: date(2026, 1, 26),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
    // Canada: only recipients subject to PIPEDA, the federal private-sector
    // law; public bodies and non-commercial activities are out of scope.
    AdequacyDecision {
        country: "CA",
        reference: "Commission Decision 2002/2/EC",
        title: "Canada (PIPEDA)",
        adopted: date(2001, 12, 20),
        in_force_until: None,
        scope: AdequacyScope::CommercialOrganisations,
    },
    // Switzerland.
    AdequacyDecision {
        country: "CH",
        reference: "Commission Decision 2000/518/EC",
        title: "Switzerland",
        adopted: date(2000, 7, 26),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
    // Faroe Islands: outside the EU although part of the Kingdom of Denmark.
    AdequacyDecision {
        country: "FO",
        reference: "Commission Decision 2010/146/EU",
        title: "Faroe Islands",
        adopted: date(2010, 3, 5),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
    // United Kingdom, GDPR decision. It carried a sunset clause (originally
    // 27 June 2025), was extended by an implementing decision of 24 June 2025
    // to 27 December 2025, and was reported renewed by the Commission on
    // 19 December 2025 for six years (to 27 December 2031). The renewal's
    // Official Journal reference and its exact legal form (amending this
    // decision or replacing it) are not verified here, so this entry stays
    // open-ended: revisit it to add the renewal as its own entry and close
    // this one, and before 27 December 2031 in any case.
    AdequacyDecision {
        country: "GB",
        reference: "Commission Implementing Decision (EU) 2021/1772",
        title: "United Kingdom (GDPR)",
        adopted: date(2021, 6, 28),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
    // Guernsey.
    AdequacyDecision {
        country: "GG",
        reference: "Commission Decision 2003/821/EC",
        title: "Guernsey",
        adopted: date(2003, 11, 21),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
    // Israel: the decision covers automated international transfers, and
    // non-automated data that is then processed by automated means in Israel;
    // it does not extend to territories under Israeli administration since
    // June 1967.
    AdequacyDecision {
        country: "IL",
        reference: "Commission Decision 2011/61/EU",
        title: "Israel",
        adopted: date(2011, 1, 31),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
    // Isle of Man.
    AdequacyDecision {
        country: "IM",
        reference: "Commission Decision 2004/411/EC",
        title: "Isle of Man",
        adopted: date(2004, 4, 28),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
    // Jersey.
    AdequacyDecision {
        country: "JE",
        reference: "Commission Decision 2008/393/EC",
        title: "Jersey",
        adopted: date(2008, 5, 8),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
    // Japan: covers personal information handling business operators under
    // the APPI, bound by the Supplementary Rules — i.e. the private sector, not
    // Japanese public authorities as recipients. Recorded as Full because it
    // is not limited to a certified or commercial subset of private recipients.
    AdequacyDecision {
        country: "JP",
        reference: "Commission Implementing Decision (EU) 2019/419",
        title: "Japan (APPI)",
        adopted: date(2019, 1, 23),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
    // Republic of Korea: covers public and private sectors under PIPA, except
    // narrow carve-outs (e.g. religious and political-party activities, and
    // credit information supervised by the Financial Services Commission).
    AdequacyDecision {
        country: "KR",
        reference: "Commission Implementing Decision (EU) 2022/254",
        title: "Republic of Korea",
        adopted: date(2021, 12, 17),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
    // New Zealand: adopted in December 2012, numbered in 2013.
    AdequacyDecision {
        country: "NZ",
        reference: "Commission Implementing Decision 2013/65/EU",
        title: "New Zealand",
        adopted: date(2012, 12, 19),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
    // United States, Safe Harbour: invalidated by the CJEU in Schrems I
    // (C-362/14) on 6 October 2015, with immediate effect.
    AdequacyDecision {
        country: "US",
        reference: "Commission Decision 2000/520/EC",
        title: "US Safe Harbour",
        adopted: date(2000, 7, 26),
        in_force_until: Some(date(2015, 10, 6)),
        scope: AdequacyScope::CertifiedOrganisations,
    },
    // United States, Privacy Shield: invalidated in Schrems II (C-311/18) on
    // 16 July 2020. There was no US adequacy from then until the DPF.
    AdequacyDecision {
        country: "US",
        reference: "Commission Implementing Decision (EU) 2016/1250",
        title: "EU-US Privacy Shield",
        adopted: date(2016, 7, 12),
        in_force_until: Some(date(2020, 7, 16)),
        scope: AdequacyScope::CertifiedOrganisations,
    },
    // United States, Data Privacy Framework: only organisations on the DPF
    // list kept by the US Department of Commerce. Its validity has been
    // challenged in court (e.g. Latombe v Commission, T-553/23); check the
    // current state before relying on it for new transfers.
    AdequacyDecision {
        country: "US",
        reference: "Commission Implementing Decision (EU) 2023/1795",
        title: "EU-US Data Privacy Framework",
        adopted: date(2023, 7, 10),
        in_force_until: None,
        scope: AdequacyScope::CertifiedOrganisations,
    },
    // Uruguay.
    AdequacyDecision {
        country: "UY",
        reference: "Commission Implementing Decision 2012/484/EU",
        title: "Uruguay",
        adopted: date(2012, 8, 21),
        in_force_until: None,
        scope: AdequacyScope::Full,
    },
];

/// All adequacy decisions known to the registry, including ones no longer in
/// force (Safe Harbour, Privacy Shield), grouped by country code and oldest
/// first within a country.
///
/// Country codes are ISO 3166-1 alpha-2 (see [`country`](super::country)).
/// Brazil's decision (EU) 2026/179 of 26 January 2026 is included; the UK
/// entry is open-ended pending verification of its 2025 renewal (see the
/// comment on that entry in the source).
#[must_use]
pub fn adequacy_decisions() -> &'static [AdequacyDecision] {
    &DECISIONS
}

/// The adequacy decision in force for `country` on `on`, if any.
///
/// A decision is in force when `adopted <= on` and either it has no end date
/// or `on` is before `in_force_until`. `country` must be an uppercase ISO
/// alpha-2 code; other spellings find nothing. The result says nothing about
/// whether a given recipient is within the decision's [`AdequacyScope`] —
/// for Canada and the US, check that separately.
#[must_use]
pub fn adequacy_decision(country: &str, on: NaiveDate) -> Option<&'static AdequacyDecision> {
    DECISIONS
        .iter()
        .find(|d| d.country == country && d.in_force_on(on))
}

/// Whether any adequacy decision covered `country` on `on`.
///
/// `true` does not by itself make a transfer lawful: the recipient must be in
/// the decision's scope (e.g. DPF-certified for the US), and the rest of the
/// GDPR still applies to the processing.
#[must_use]
pub fn has_adequacy(country: &str, on: NaiveDate) -> bool {
    adequacy_decision(country, on).is_some()
}

#[cfg(test)]
mod tests {
    use super::super::countries::{country, is_eea};
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    #[test]
    fn us_history() {
        let on = |s| adequacy_decision("US", d(s)).map(|x| x.title);
        assert_eq!(on("1999-01-01"), None);
        assert_eq!(on("2000-07-26"), Some("US Safe Harbour"));
        assert_eq!(on("2015-10-05"), Some("US Safe Harbour"));
        assert_eq!(on("2015-10-06"), None, "Schrems I");
        assert_eq!(on("2016-01-01"), None);
        assert_eq!(on("2016-07-12"), Some("EU-US Privacy Shield"));
        assert_eq!(on("2018-01-01"), Some("EU-US Privacy Shield"));
        assert_eq!(on("2020-07-15"), Some("EU-US Privacy Shield"));
        assert_eq!(on("2020-07-16"), None, "Schrems II");
        assert_eq!(on("2021-01-01"), None);
        assert_eq!(on("2023-07-09"), None);
        assert_eq!(on("2023-07-10"), Some("EU-US Data Privacy Framework"));

        let dpf = adequacy_decision("US", d("2024-01-01")).expect("DPF in force");
        assert_eq!(
            dpf.reference,
            "Commission Implementing Decision (EU) 2023/1795"
        );
        assert_eq!(dpf.scope, AdequacyScope::CertifiedOrganisations);
        assert!(has_adequacy("US", d("2024-01-01")));
        assert!(!has_adequacy("US", d("2021-01-01")));
        assert!(has_adequacy("US", d("2018-01-01")));
    }

    #[test]
    fn canada_is_commercial_only() {
        let ca = adequacy_decision("CA", d("2024-01-01")).expect("Canada");
        assert_eq!(ca.scope, AdequacyScope::CommercialOrganisations);
        assert_eq!(ca.adopted, d("2001-12-20"));
    }

    #[test]
    fn japan_starts_on_adoption() {
        assert!(!has_adequacy("JP", d("2019-01-22")));
        assert!(has_adequacy("JP", d("2019-01-23")));
        assert_eq!(
            adequacy_decision("JP", d("2019-01-23")).map(|x| x.reference),
            Some("Commission Implementing Decision (EU) 2019/419")
        );
    }

    #[test]
    fn current_list() {
        let today = d("2026-06-01");
        let mut current: Vec<_> = DECISIONS
            .iter()
            .filter(|x| x.in_force_on(today))
            .map(|x| x.country)
            .collect();
        current.sort_unstable();
        assert_eq!(
            current,
            [
                "AD", "AR", "BR", "CA", "CH", "FO", "GB", "GG", "IL", "IM", "JE", "JP", "KR", "NZ",
                "US", "UY"
            ]
        );
        assert!(has_adequacy("GB", today));
        assert!(has_adequacy("CH", today));
        assert!(!has_adequacy("AU", today));
        assert!(!has_adequacy("NL", today), "EEA states need no adequacy");
        assert!(!has_adequacy("us", today), "codes are case-sensitive");
    }

    #[test]
    fn every_country_is_a_valid_non_eea_country() {
        for x in adequacy_decisions() {
            assert!(country(x.country).is_some(), "{}: not a country", x.country);
            assert!(!is_eea(x.country), "{}: is in the EEA", x.country);
        }
    }

    #[test]
    fn decisions_are_well_formed() {
        for x in adequacy_decisions() {
            assert!(!x.reference.is_empty() && !x.title.is_empty());
            if let Some(until) = x.in_force_until {
                assert!(x.adopted < until, "{}: ends before it starts", x.reference);
            }
        }
        let mut refs: Vec<_> = adequacy_decisions().iter().map(|x| x.reference).collect();
        refs.sort_unstable();
        refs.dedup();
        assert_eq!(
            refs.len(),
            adequacy_decisions().len(),
            "duplicate reference"
        );
    }

    #[test]
    fn table_is_grouped_by_country_oldest_first() {
        assert!(
            DECISIONS
                .windows(2)
                .all(|w| (w[0].country, w[0].adopted) < (w[1].country, w[1].adopted))
        );
    }

    #[test]
    fn decisions_for_a_country_never_overlap() {
        let all = adequacy_decisions();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                if a.country != b.country {
                    continue;
                }
                let (first, second) = if a.adopted <= b.adopted {
                    (a, b)
                } else {
                    (b, a)
                };
                let first_end = first
                    .in_force_until
                    .unwrap_or_else(|| panic!("{} is open-ended but superseded", first.reference));
                assert!(
                    first_end <= second.adopted,
                    "{} overlaps {}",
                    first.reference,
                    second.reference
                );
            }
        }
    }
}

//! Adequacy decisions of the three regimes (EU GDPR Art. 45, UK GDPR Art. 45 with the Data
//! Protection Act 2018 s. 17A, Swiss FADP Art. 16(1) with Annex 1 DPO), with their lives and
//! scopes.
//!
//! The table is data, not code: `data/adequacy.yaml`, compiled into the binary and read at
//! start-up, or an operator's updated copy of it (`--adequacy-file`). Each decision carries
//! its adoption, its entry into force, its end, the acts that amended or replaced it, its
//! Official Journal reference and address, and the sources its dates were read from; the
//! loader refuses a file whose dates are not backed by its sources, whose countries are not
//! codes outside the regime's free-flow area, or whose decisions overlap. The table keeps
//! history, so a transfer is judged against the law of the day it was recorded.

use super::countries::{EEA, country};
use super::regime::Regime;
use chrono::NaiveDate;
use entity::RecipientKind;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock};

/// The table compiled into the binary.
pub const BUILTIN: &str = include_str!("../../data/adequacy.yaml");

/// Which importers in the country a decision covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdequacyScope {
    /// Every importer the country's general data protection law covers (individual decisions
    /// may carve out narrow areas: see each one's scope note).
    Full,
    /// Organisations subject to the country's private-sector law in the course of commercial
    /// activities (Canada: PIPEDA): not public authorities.
    CommercialOrganisations,
    /// Private-sector businesses only (Japan: business operators under the APPI): not public
    /// authorities.
    PrivateSector,
    /// Only importers certified under the decision's framework (US: the Data Privacy Framework
    /// and its UK and Swiss counterparts).
    CertifiedOrganisations,
}

/// What a decision's scope asks of an importer.
#[derive(Clone, Copy, Debug)]
pub struct Importer<'a> {
    pub kind: RecipientKind,
    /// Certified under the EU-U.S. Data Privacy Framework.
    pub dpf_certified: bool,
    /// The certifications the recipient holds, by name.
    pub certifications: &'a [String],
}

/// The EU-U.S. framework, which a recipient's `dpf_certified` flag records.
pub const EU_US_DPF: &str = "EU-U.S. Data Privacy Framework";

/// An act that amended a decision (an extension, a renewal, an alignment with a judgment).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Amendment {
    pub reference: String,
    pub adopted: NaiveDate,
    #[serde(default)]
    pub official_journal: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// What it changed.
    pub effect: String,
    #[serde(default)]
    pub sources: Vec<String>,
}

/// One adequacy decision, for one country (a decision of several countries is one entry per
/// country, all with the same key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdequacyDecision {
    /// Stable identifier of the decision in the table.
    pub key: String,
    pub regime: Regime,
    /// ISO 3166-1 alpha-2 code of the country or territory; `None` for an international
    /// organisation.
    pub country: Option<String>,
    pub international_organisation: Option<String>,
    pub title: String,
    /// Official citation, e.g. "Commission Implementing Decision (EU) 2023/1795".
    pub reference: String,
    pub official_journal: Option<String>,
    pub url: String,
    /// The date in the decision's title.
    pub adopted: NaiveDate,
    /// When it could first be relied on; the adoption date when absent.
    pub in_force_from: Option<NaiveDate>,
    /// The first day it can no longer be relied on; `None` while in force indefinitely.
    pub in_force_until: Option<NaiveDate>,
    pub amended_by: Vec<Amendment>,
    /// The decision that replaced it, if any.
    pub replaced_by: Option<String>,
    pub scope: AdequacyScope,
    /// For certified scopes: the framework an importer must be certified under.
    pub certification: Option<String>,
    pub scope_note: Option<String>,
    pub notes: Vec<String>,
    /// The ids of the table's sources the decision's facts come from.
    pub sources: Vec<String>,
}

impl AdequacyDecision {
    /// The first day the decision covers.
    pub fn starts(&self) -> NaiveDate {
        self.in_force_from.unwrap_or(self.adopted)
    }

    /// Whether the decision could be relied on for a transfer on `on`.
    pub fn in_force_on(&self, on: NaiveDate) -> bool {
        self.starts() <= on && self.in_force_until.is_none_or(|until| on < until)
    }

    /// Whether `importer` is within the decision's scope.
    pub fn covers(&self, importer: &Importer<'_>) -> bool {
        match self.scope {
            AdequacyScope::Full => true,
            AdequacyScope::CommercialOrganisations | AdequacyScope::PrivateSector => {
                importer.kind != RecipientKind::PublicAuthority
            }
            AdequacyScope::CertifiedOrganisations => {
                let framework = self.certification.as_deref().unwrap_or(EU_US_DPF);
                (framework == EU_US_DPF && importer.dpf_certified)
                    || importer
                        .certifications
                        .iter()
                        .any(|c| c.trim().eq_ignore_ascii_case(framework))
            }
        }
    }

    /// Who the decision covers, in words, for messages.
    pub fn scope_in_words(&self) -> String {
        match self.scope {
            AdequacyScope::Full => "every importer its law covers".to_owned(),
            AdequacyScope::CommercialOrganisations => {
                "only organisations in the course of commercial activities, not public authorities"
                    .to_owned()
            }
            AdequacyScope::PrivateSector => {
                "only the private sector, not public authorities".to_owned()
            }
            AdequacyScope::CertifiedOrganisations => format!(
                "only importers certified under the {}",
                self.certification.as_deref().unwrap_or(EU_US_DPF)
            ),
        }
    }
}

/// A source the table's facts come from, with the dates it states.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: String,
    pub title: String,
    pub url: String,
    /// The dates the source states, each with what happened on it.
    pub dates: BTreeMap<NaiveDate, String>,
}

/// The adequacy decisions of every regime, with their sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdequacyTable {
    decisions: Vec<AdequacyDecision>,
    sources: Vec<Source>,
}

/// A decision as the file writes it: one entry for all its countries.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDecision {
    key: String,
    regime: Regime,
    countries: Vec<String>,
    #[serde(default)]
    international_organisation: Option<String>,
    title: String,
    reference: String,
    #[serde(default)]
    official_journal: Option<String>,
    url: String,
    adopted: NaiveDate,
    #[serde(default)]
    in_force_from: Option<NaiveDate>,
    #[serde(default)]
    in_force_until: Option<NaiveDate>,
    #[serde(default)]
    amended_by: Vec<Amendment>,
    #[serde(default)]
    replaced_by: Option<String>,
    scope: AdequacyScope,
    #[serde(default)]
    certification: Option<String>,
    #[serde(default)]
    scope_note: Option<String>,
    #[serde(default)]
    notes: Vec<String>,
    sources: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    sources: Vec<Source>,
    decisions: Vec<FileDecision>,
}

static BUILTIN_TABLE: LazyLock<Arc<AdequacyTable>> = LazyLock::new(|| {
    // The compiled-in file is checked by the tests below, so it always reads.
    Arc::new(
        AdequacyTable::parse(BUILTIN)
            .unwrap_or_else(|e| panic!("the compiled-in data/adequacy.yaml does not read: {e}")),
    )
});

impl AdequacyTable {
    /// The table compiled into the binary (`data/adequacy.yaml`).
    pub fn builtin() -> Arc<AdequacyTable> {
        Arc::clone(&BUILTIN_TABLE)
    }

    /// Reads an adequacy file, from the path an operator gave.
    pub fn load(path: &std::path::Path) -> Result<AdequacyTable, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the adequacy file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("the adequacy file {}: {e}", path.display()))
    }

    /// Reads a table in the format of `data/adequacy.yaml`, checking its rules.
    pub fn parse(text: &str) -> Result<AdequacyTable, String> {
        let file: File = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        let sources: HashMap<&str, &Source> =
            file.sources.iter().map(|s| (s.id.as_str(), s)).collect();
        if sources.len() != file.sources.len() {
            return Err("two sources have the same id".into());
        }
        let mut keys = HashSet::new();
        let mut decisions = Vec::new();
        for d in file.decisions {
            if !keys.insert(d.key.clone()) {
                return Err(format!("two decisions have the key `{}`", d.key));
            }
            check_sources(&d, &sources)?;
            if let Some(until) = d.in_force_until
                && until <= d.in_force_from.unwrap_or(d.adopted)
            {
                return Err(format!("`{}` ends before it starts", d.key));
            }
            if d.countries.is_empty() && d.international_organisation.is_none() {
                return Err(format!(
                    "`{}` names neither a country nor an international organisation",
                    d.key
                ));
            }
            let mut countries = Vec::new();
            for code in &d.countries {
                if code == "EEA" && d.regime != Regime::EuGdpr {
                    countries.extend(EEA.iter().map(|c| (*c).to_owned()));
                    continue;
                }
                if country(code).is_none() {
                    return Err(format!("`{}`: `{code}` is not a country code", d.key));
                }
                if d.regime.free_flow(code) {
                    return Err(format!(
                        "`{}`: {code} is in {}, where data flows without a decision",
                        d.key,
                        d.regime.free_flow_area()
                    ));
                }
                countries.push(code.clone());
            }
            let base = AdequacyDecision {
                key: d.key,
                regime: d.regime,
                country: None,
                international_organisation: d.international_organisation,
                title: d.title,
                reference: d.reference,
                official_journal: d.official_journal,
                url: d.url,
                adopted: d.adopted,
                in_force_from: d.in_force_from,
                in_force_until: d.in_force_until,
                amended_by: d.amended_by,
                replaced_by: d.replaced_by,
                scope: d.scope,
                certification: d.certification,
                scope_note: d.scope_note,
                notes: d.notes,
                sources: d.sources,
            };
            if countries.is_empty() {
                decisions.push(base);
                continue;
            }
            for code in countries {
                decisions.push(AdequacyDecision {
                    country: Some(code),
                    ..base.clone()
                });
            }
        }
        check_no_overlap(&decisions)?;
        decisions.sort_by(|a, b| {
            (a.regime, &a.country, a.starts()).cmp(&(b.regime, &b.country, b.starts()))
        });
        Ok(AdequacyTable {
            decisions,
            sources: file.sources,
        })
    }

    /// Every decision of every regime, in force or not, a country at a time.
    pub fn decisions(&self) -> &[AdequacyDecision] {
        &self.decisions
    }

    /// The sources the table cites.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The decision of `regime` in force for `country` on `on`, if any. Whether it covers a
    /// given importer is [`AdequacyDecision::covers`].
    pub fn decision(
        &self,
        regime: Regime,
        country: &str,
        on: NaiveDate,
    ) -> Option<&AdequacyDecision> {
        self.decisions.iter().find(|d| {
            d.regime == regime && d.country.as_deref() == Some(country) && d.in_force_on(on)
        })
    }
}

/// Every date of a decision is stated by a source it (or, for an amendment's date, the
/// amendment) cites.
fn check_sources(d: &FileDecision, sources: &HashMap<&str, &Source>) -> Result<(), String> {
    let cited = |ids: &[String]| -> Result<Vec<&Source>, String> {
        ids.iter()
            .map(|id| {
                sources
                    .get(id.as_str())
                    .copied()
                    .ok_or_else(|| format!("`{}` cites an unknown source `{id}`", d.key))
            })
            .collect()
    };
    let own = cited(&d.sources)?;
    if own.is_empty() {
        return Err(format!("`{}` cites no source", d.key));
    }
    let stated = |date: NaiveDate, by: &[&Source]| by.iter().any(|s| s.dates.contains_key(&date));
    for (what, date) in [
        ("adoption", Some(d.adopted)),
        ("entry into force", d.in_force_from),
        ("end", d.in_force_until),
    ] {
        if let Some(date) = date
            && !stated(date, &own)
        {
            return Err(format!(
                "the {what} of `{}` ({date}) is not a date of any source it cites",
                d.key
            ));
        }
    }
    for a in &d.amended_by {
        let mut by = cited(&a.sources)?;
        by.extend(own.iter().copied());
        if !stated(a.adopted, &by) {
            return Err(format!(
                "the amendment {} of `{}` ({}) is not a date of any source it cites",
                a.reference, d.key, a.adopted
            ));
        }
    }
    Ok(())
}

/// Two decisions of one regime never cover one country on the same day.
fn check_no_overlap(decisions: &[AdequacyDecision]) -> Result<(), String> {
    for (i, a) in decisions.iter().enumerate() {
        for b in &decisions[i + 1..] {
            if a.regime != b.regime || a.country.is_none() || a.country != b.country {
                continue;
            }
            let (first, second) = if a.starts() <= b.starts() {
                (a, b)
            } else {
                (b, a)
            };
            if first.in_force_until.is_none_or(|end| end > second.starts()) {
                return Err(format!(
                    "`{}` and `{}` both cover {} under the {}",
                    first.key,
                    second.key,
                    a.country.as_deref().unwrap_or_default(),
                    a.regime.name()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    fn table() -> Arc<AdequacyTable> {
        AdequacyTable::builtin()
    }

    fn eu(country: &str, on: &str) -> Option<String> {
        table()
            .decision(Regime::EuGdpr, country, d(on))
            .map(|x| x.title.clone())
    }

    #[test]
    fn the_compiled_in_file_reads() {
        let table = table();
        assert!(table.decisions().len() > 50);
        assert!(!table.sources().is_empty());
    }

    /// Every date of every decision is one its sources state: the check the loader makes,
    /// on the file that ships.
    #[test]
    fn every_date_is_backed_by_the_sources_it_cites() {
        let table = table();
        let sources: HashMap<&str, &Source> =
            table.sources().iter().map(|s| (s.id.as_str(), s)).collect();
        for x in table.decisions() {
            let cited: Vec<&Source> = x.sources.iter().map(|id| sources[id.as_str()]).collect();
            for date in [Some(x.adopted), x.in_force_from, x.in_force_until]
                .into_iter()
                .flatten()
            {
                assert!(
                    cited.iter().any(|s| s.dates.contains_key(&date)),
                    "{}: {date} is in none of {:?}",
                    x.key,
                    x.sources
                );
            }
            for a in &x.amended_by {
                assert!(
                    cited
                        .iter()
                        .copied()
                        .chain(a.sources.iter().map(|id| sources[id.as_str()]))
                        .any(|s| s.dates.contains_key(&a.adopted)),
                    "{}: amendment {}",
                    x.key,
                    a.reference
                );
            }
            assert!(x.url.starts_with("http"), "{}", x.key);
        }
    }

    #[test]
    fn a_date_without_a_source_is_refused() {
        let broken = BUILTIN.replacen("adopted: 2010-10-19", "adopted: 2010-10-18", 1);
        let err = AdequacyTable::parse(&broken).unwrap_err();
        assert!(err.contains("eu-andorra"), "{err}");
        let overlapping = BUILTIN.replacen("in_force_until: 2020-07-16", "", 1);
        assert!(AdequacyTable::parse(&overlapping).is_err());
    }

    #[test]
    fn us_history() {
        assert_eq!(eu("US", "1999-01-01"), None);
        assert_eq!(eu("US", "2000-07-26").as_deref(), Some("US Safe Harbour"));
        assert_eq!(eu("US", "2015-10-05").as_deref(), Some("US Safe Harbour"));
        assert_eq!(eu("US", "2015-10-06"), None, "Schrems I");
        assert_eq!(
            eu("US", "2016-07-12").as_deref(),
            Some("EU-US Privacy Shield")
        );
        assert_eq!(
            eu("US", "2020-07-15").as_deref(),
            Some("EU-US Privacy Shield")
        );
        assert_eq!(eu("US", "2020-07-16"), None, "Schrems II");
        assert_eq!(eu("US", "2023-07-09"), None);
        assert_eq!(
            eu("US", "2023-07-10").as_deref(),
            Some("EU-US Data Privacy Framework")
        );
    }

    #[test]
    fn the_uk_decision_lives_to_2031() {
        assert_eq!(eu("GB", "2021-06-27"), None);
        assert_eq!(
            eu("GB", "2025-07-01").as_deref(),
            Some("United Kingdom (GDPR)")
        );
        assert_eq!(
            eu("GB", "2031-12-26").as_deref(),
            Some("United Kingdom (GDPR)")
        );
        assert_eq!(eu("GB", "2031-12-27"), None);
        let uk = table()
            .decision(Regime::EuGdpr, "GB", d("2026-12-01"))
            .cloned()
            .unwrap();
        assert_eq!(uk.amended_by.len(), 2);
        assert_eq!(
            uk.amended_by[1].reference,
            "Commission Implementing Decision (EU) 2025/2574"
        );
    }

    #[test]
    fn brazil_is_adequate_from_january_2026() {
        assert_eq!(eu("BR", "2026-01-25"), None);
        assert_eq!(eu("BR", "2026-01-26").as_deref(), Some("Brazil"));
    }

    #[test]
    fn scopes_are_enforced() {
        let on = d("2026-12-01");
        let table = table();
        let private = Importer {
            kind: RecipientKind::TelecomOperator,
            dpf_certified: false,
            certifications: &[],
        };
        let authority = Importer {
            kind: RecipientKind::PublicAuthority,
            ..private
        };
        let canada = table.decision(Regime::EuGdpr, "CA", on).unwrap();
        assert!(canada.covers(&private) && !canada.covers(&authority));
        let japan = table.decision(Regime::EuGdpr, "JP", on).unwrap();
        assert!(japan.covers(&private) && !japan.covers(&authority));
        let us = table.decision(Regime::EuGdpr, "US", on).unwrap();
        assert!(!us.covers(&private));
        assert!(us.covers(&Importer {
            dpf_certified: true,
            ..private
        }));
        // The UK data bridge needs the UK Extension, not the EU framework alone.
        let bridge = table.decision(Regime::UkGdpr, "US", on).unwrap();
        assert!(!bridge.covers(&Importer {
            dpf_certified: true,
            ..private
        }));
        let extension = ["UK Extension to the EU-U.S. Data Privacy Framework".to_owned()];
        assert!(bridge.covers(&Importer {
            certifications: &extension,
            ..private
        }));
    }

    #[test]
    fn each_regime_has_its_own_list() {
        let table = table();
        let on = d("2026-12-01");
        assert!(table.decision(Regime::UkGdpr, "IE", on).is_some());
        assert!(table.decision(Regime::EuGdpr, "IE", on).is_none());
        assert!(table.decision(Regime::SwissFadp, "DE", on).is_some());
        assert!(
            table
                .decision(Regime::UkGdpr, "US", d("2023-10-11"))
                .is_none()
        );
        assert!(
            table
                .decision(Regime::UkGdpr, "US", d("2023-10-12"))
                .is_some()
        );
        assert!(
            table
                .decision(Regime::SwissFadp, "US", d("2024-09-14"))
                .is_none()
        );
        assert!(
            table
                .decision(Regime::SwissFadp, "US", d("2024-09-15"))
                .is_some()
        );
        let mut current: Vec<&str> = table
            .decisions()
            .iter()
            .filter(|x| x.regime == Regime::EuGdpr && x.in_force_on(on))
            .filter_map(|x| x.country.as_deref())
            .collect();
        current.sort_unstable();
        assert_eq!(
            current,
            [
                "AD", "AR", "BR", "CA", "CH", "FO", "GB", "GG", "IL", "IM", "JE", "JP", "KR", "NZ",
                "US", "UY"
            ]
        );
        assert!(table.decisions().iter().any(
            |x| x.international_organisation.as_deref() == Some("European Patent Organisation")
        ));
    }
}

//! Input rules shared by every write. Each failure names the input field it concerns.

use super::error::{RegistryError, Result};
use super::inputs::{Safeguard, TransferInput};
use super::invisible;
use super::transfers::{self, ExporterRole, ModuleRule, Party};
use crate::reference::{self, AdequacyScope, AdequacyTable, Importer, Regime};
use chrono::{NaiveDate, Utc};
use entity::{Derogation, RecipientRole, RetentionStart, TransferMechanism};
use std::collections::HashSet;

pub const MAX_NAME: usize = 200;
pub const MAX_TEXT: usize = 4_000;
pub const MAX_LIST: usize = 200;

/// A required single-line text: trimmed, non-empty, bounded.
pub fn name(field: &str, value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(RegistryError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > MAX_NAME {
        return Err(RegistryError::invalid(
            field,
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(RegistryError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    // A name is a single run: it has no use for bidi isolates.
    if let Some(found) = invisible::first_invisible(value, false) {
        return Err(RegistryError::invalid(
            field,
            invisible::refusal(found, false),
        ));
    }
    Ok(value.to_owned())
}

/// An optional free text: trimmed, empty means absent, bounded; line breaks and tabs are
/// allowed, other control characters (NUL, escape sequences) are not.
pub fn text(field: &str, value: Option<&str>) -> Result<Option<String>> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > MAX_TEXT {
        return Err(RegistryError::invalid(
            field,
            format!("must be at most {MAX_TEXT} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(RegistryError::invalid(
            field,
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    if let Some(found) = invisible::first_invisible(value, true) {
        return Err(RegistryError::invalid(
            field,
            invisible::refusal(found, true),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// An instant to rebuild the registry at: within the years 1 to 9999 (ISO 8601's range, which
/// both databases store).
pub fn instant(field: &str, at: chrono::DateTime<Utc>) -> Result<()> {
    use chrono::Datelike as _;
    if !(1..=9999).contains(&at.year()) {
        return Err(RegistryError::invalid(
            field,
            "must be between the years 1 and 9999",
        ));
    }
    Ok(())
}

/// A filter's list of values: at most [`MAX_LIST`] of them.
pub fn bounded(field: &str, len: usize) -> Result<()> {
    if len > MAX_LIST {
        return Err(RegistryError::invalid(
            field,
            format!("must have at most {MAX_LIST} entries"),
        ));
    }
    Ok(())
}

/// A list of texts (purposes, certifications...): each trimmed and non-empty, no duplicates.
pub fn texts(field: &str, values: &[String]) -> Result<Vec<String>> {
    if values.len() > MAX_LIST {
        return Err(RegistryError::invalid(
            field,
            format!("must have at most {MAX_LIST} entries"),
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        let value = text(&format!("{field}[{i}]"), Some(value))?
            .ok_or_else(|| RegistryError::invalid(format!("{field}[{i}]"), "must not be empty"))?;
        if seen.insert(value.clone()) {
            out.push(value);
        }
    }
    Ok(out)
}

/// A stable identifier such as `stripe` or `sms_delivery`: lowercase letters, digits and `_`.
pub fn key(field: &str, value: &str) -> Result<String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(RegistryError::invalid(
            field,
            format!(
                "`{}` is not a valid key: use 1 to 64 lowercase letters, digits and underscores, starting with a letter",
                truncate(value)
            ),
        ))
    }
}

/// A list of keys, each named by its index in the error (`dataSubjects[2]`).
pub fn keys(field: &str, values: &[String]) -> Result<Vec<String>> {
    values
        .iter()
        .enumerate()
        .map(|(i, value)| key(&format!("{field}[{i}]"), value))
        .collect()
}

/// A list of data category keys, each named by its index in the error.
pub fn category_keys(field: &str, values: &[String]) -> Result<Vec<String>> {
    values
        .iter()
        .enumerate()
        .map(|(i, value)| category_key(&format!("{field}[{i}]"), value))
        .collect()
}

/// A data category key: dot-separated segments, each a valid key (`contact.phone_number`).
pub fn category_key(field: &str, value: &str) -> Result<String> {
    let ok = value.len() <= 128 && value.split('.').all(|segment| key(field, segment).is_ok());
    if ok {
        Ok(value.to_owned())
    } else {
        Err(RegistryError::invalid(
            field,
            format!(
                "`{}` is not a valid data category key: use dot-separated segments of lowercase letters, digits and underscores",
                truncate(value)
            ),
        ))
    }
}

/// An ISO 3166-1 alpha-2 country code.
pub fn country(field: &str, value: &str) -> Result<String> {
    match reference::country(value) {
        Some(country) => Ok(country.alpha2.to_owned()),
        None => Err(RegistryError::invalid(
            field,
            format!(
                "`{}` is not an ISO 3166-1 alpha-2 country code",
                truncate(value)
            ),
        )),
    }
}

/// A list of country codes, deduplicated, in the given order.
pub fn countries(field: &str, values: &[String]) -> Result<Vec<String>> {
    if values.len() > 250 {
        return Err(RegistryError::invalid(field, "has too many countries"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let code = country(&format!("{field}[{i}]"), value)?;
        if seen.insert(code.clone()) {
            out.push(code);
        }
    }
    Ok(out)
}

/// A URL a reader can follow: http or https.
pub fn url(field: &str, value: Option<&str>) -> Result<Option<String>> {
    let Some(value) = text(field, value)? else {
        return Ok(None);
    };
    // Parsed by the WHATWG URL rules (the `url` crate), kept as entered.
    let web_address = (value.starts_with("https://") || value.starts_with("http://"))
        && !value.chars().any(char::is_whitespace)
        && url::Url::parse(&value).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()));
    if !web_address {
        return Err(RegistryError::invalid(
            field,
            "must be an http or https URL with a host, such as https://example.com/privacy",
        ));
    }
    Ok(Some(value))
}

/// An ISO 8601 retention period with a single unit: `P6M`, `P10Y`, `P2W`, `P30D`.
pub fn retention_period(field: &str, value: Option<&str>) -> Result<Option<String>> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let parsed = value
        .strip_prefix('P')
        .and_then(|rest| rest.split_at_checked(rest.len().saturating_sub(1)))
        .filter(|(n, unit)| {
            !n.is_empty()
                && n.len() <= 4
                && n.chars().all(|c| c.is_ascii_digit())
                && matches!(*unit, "Y" | "M" | "W" | "D")
        });
    match parsed {
        Some(_) => Ok(Some(value.to_owned())),
        None => Err(RegistryError::invalid(
            field,
            format!(
                "`{}` is not an ISO 8601 period such as P6M, P10Y or P30D",
                truncate(value)
            ),
        )),
    }
}

/// What a retention period runs from (Art. 30(1)(f) asks for a time limit, and a period
/// without its start is none): a period needs its start; data kept for the duration of the
/// contract takes no period; a start needs a period.
pub fn retention_start(period: Option<&str>, from: Option<RetentionStart>) -> Result<()> {
    match (period, from) {
        (Some(_), None) => Err(RegistryError::invalid(
            "retentionFrom",
            "say what the retention period runs from: COLLECTION, END_OF_CONTRACT, LAST_ACTIVITY or LEGAL_OBLIGATION_EVENT (Art. 30(1)(f) asks for a time limit, and a period without its start is none)",
        )),
        (Some(_), Some(RetentionStart::DurationOfContract)) => Err(RegistryError::invalid(
            "retentionPeriod",
            "data kept for the duration of the contract takes no period: leave retentionPeriod out, or give the period and what it runs from (END_OF_CONTRACT)",
        )),
        (None, Some(from)) if from != RetentionStart::DurationOfContract => {
            Err(RegistryError::invalid(
                "retentionPeriod",
                "a retention start needs its period (an ISO 8601 duration such as P12M)",
            ))
        }
        _ => Ok(()),
    }
}

/// The parties of a transfer, as the Chapter V rules need them (see [`super::transfers`]).
#[derive(Clone, Copy, Debug)]
pub struct TransferParties<'a> {
    /// The exporter: who sends the data across the border.
    pub exporter: Party<'a>,
    /// The law the exporter is under.
    pub regime: Regime,
    /// What the parties' roles make of standard contractual clauses.
    pub modules: ModuleCheck,
    /// The importer's legal name.
    pub importer_name: &'a str,
    /// The importer, as the adequacy decisions' scopes ask about it.
    pub importer: Importer<'a>,
    /// The adequacy decisions the registry runs on.
    pub adequacy: &'a AdequacyTable,
    /// The day the transfer is recorded on.
    pub today: NaiveDate,
}

/// What the modules of standard contractual clauses must be.
#[derive(Clone, Copy, Debug)]
pub enum ModuleCheck {
    /// A flow's transfer: the module its parties' roles give.
    Flow {
        rule: ModuleRule,
        exporter_role: ExporterRole,
        importer_role: RecipientRole,
    },
    /// A recipient's summary safeguard, whose exporter's role is not known: the modules its
    /// default role allows.
    Summary { default_role: RecipientRole },
}

/// The modules of Decision 2021/914, as a message lists them.
const MODULES: &str = "1 (controller to controller), 2 (controller to processor), 3 (processor to processor) and 4 (processor to controller)";

/// The module the safeguard takes under the parties' roles: the one given, checked, or the one
/// the roles give when none is.
fn scc_module(
    field: &str,
    given: Option<i32>,
    parties: &TransferParties<'_>,
) -> Result<Option<i32>> {
    let field = format!("{field}.sccModule");
    if let Some(m) = given
        && !(1..=4).contains(&m)
    {
        return Err(RegistryError::invalid(
            field,
            format!("`{m}` is not an SCC module: Decision 2021/914 has the modules {MODULES}"),
        ));
    }
    let exporter = parties.exporter.name;
    let importer = parties.importer_name;
    match parties.modules {
        ModuleCheck::Summary { default_role } => {
            let allowed = transfers::modules_for_default_role(default_role);
            match given {
                None => Err(RegistryError::invalid(
                    field,
                    format!("standard contractual clauses need their module: {MODULES}"),
                )),
                Some(m) if !allowed.contains(&(m as i16)) => Err(RegistryError::invalid(
                    field,
                    format!(
                        "module {m} ({}) does not fit {importer}, {} by default: its transfers use module {}",
                        transfers::module_parties(m as i16),
                        transfers::role_words(default_role),
                        allowed
                            .iter()
                            .map(|m| format!("{m} ({})", transfers::module_parties(*m)))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                )),
                Some(m) => Ok(Some(m)),
            }
        }
        ModuleCheck::Flow {
            rule,
            exporter_role,
            importer_role,
        } => match rule {
            ModuleRule::Module(expected) => match given {
                Some(m) if m != i32::from(expected) => Err(RegistryError::invalid(
                    field,
                    format!(
                        "module {m} ({}) contradicts the roles: {exporter} exports as {} of this activity's data and {importer} receives it as {}, which is module {expected} ({})",
                        transfers::module_parties(m as i16),
                        transfers::exporter_role_words(exporter_role),
                        transfers::role_words(importer_role),
                        transfers::module_parties(expected)
                    ),
                )),
                _ => Ok(Some(i32::from(expected))),
            },
            ModuleRule::NoneFits => {
                let position = i32::from(transfers::NONE_FITS_POSITION_MODULE);
                match given {
                    Some(m) if m == position => Ok(Some(m)),
                    _ => Err(RegistryError::invalid(
                        field,
                        format!(
                            "no module of Decision 2021/914 fits: {exporter} exports as processor of this activity's data and {importer} receives it as {}, a third party, not the controller {exporter} processes for (module 4 covers only a transfer back to that controller); record module 1, concluded on behalf of the controllers who instruct the disclosure, with that position in `safeguards`, or a mechanism that applies without a module (an adequacy decision, a derogation)",
                            transfers::role_words(importer_role)
                        ),
                    )),
                }
            }
            ModuleRule::Undetermined => match given {
                None => Err(RegistryError::invalid(
                    field,
                    format!(
                        "{exporter} only conveys this activity's data, so its role gives no module: name the module ({MODULES})"
                    ),
                )),
                Some(m) => Ok(Some(m)),
            },
            ModuleRule::NotATransfer => Err(RegistryError::invalid(
                field,
                "the importer is a mere conduit: there is no transfer to take clauses for",
            )),
        },
    }
}

/// A transfer safeguard for data sent to `destinations` (the countries it covers) between
/// `parties`: the mechanism exists under the exporter's regime; standard contractual clauses
/// carry the module the roles give (filled in when absent) and an Art. 49 transfer its
/// derogation, with the assessment Art. 49(6) asks for where the EDPB reads the derogation as
/// for occasional transfers or the consent as specific; a derogation is refused where an
/// adequacy decision covers the importer, and an adequacy transfer needs a decision in force
/// `today` whose scope covers the importer. Returns the safeguard as stored.
pub fn safeguard(
    field: &str,
    destinations: &[&str],
    safeguard: &Safeguard,
    parties: &TransferParties<'_>,
) -> Result<Safeguard> {
    let regime = parties.regime;
    let mechanism = safeguard.mechanism;
    if let Err(why) = regime.instrument(mechanism) {
        return Err(RegistryError::invalid(
            format!("{field}.mechanism"),
            format!(
                "{} ({}) exports under the {}: {why}",
                parties.exporter.name,
                parties.exporter.country,
                regime.name()
            ),
        ));
    }
    let scc_module = if regime.takes_scc_module(mechanism) {
        scc_module(field, safeguard.scc_module, parties)?
    } else {
        if safeguard.scc_module.is_some() {
            return Err(RegistryError::invalid(
                format!("{field}.sccModule"),
                "an SCC module applies only to the EU standard contractual clauses (under the UK GDPR, to the UK Addendum that incorporates them)",
            ));
        }
        None
    };
    let derogation = mechanism == TransferMechanism::Derogation;
    match (derogation, safeguard.derogation) {
        (true, None) => {
            return Err(RegistryError::invalid(
                format!("{field}.derogation"),
                format!(
                    "a transfer under {} must name the derogation it relies on",
                    regime.derogations()
                ),
            ));
        }
        (false, Some(_)) => {
            return Err(RegistryError::invalid(
                format!("{field}.derogation"),
                "a derogation applies only to the DEROGATION mechanism",
            ));
        }
        _ => {}
    }
    let safeguards = text(
        &format!("{field}.safeguards"),
        safeguard.safeguards.as_deref(),
    )?;
    if let Some(d) = safeguard.derogation {
        derogation_rules(field, destinations, d, safeguards.is_some(), parties)?;
    }
    if scc_module.is_some()
        && matches!(
            parties.modules,
            ModuleCheck::Flow {
                rule: ModuleRule::NoneFits,
                ..
            }
        )
        && safeguards.is_none()
    {
        return Err(RegistryError::invalid(
            format!("{field}.safeguards"),
            format!(
                "no SCC module fits a processor's transfer to a third party acting as controller: record in `safeguards` the position taken with module 1 (concluded on behalf of the controllers {} processes for, who instruct the disclosure)",
                parties.exporter.name
            ),
        ));
    }
    if let Some(date) = safeguard.tia_date
        && (date > parties.today || date < NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(date))
    {
        return Err(RegistryError::invalid(
            format!("{field}.tiaDate"),
            "the transfer impact assessment date must be a past date",
        ));
    }
    if mechanism == TransferMechanism::AdequacyDecision {
        adequacy(field, destinations, parties)?;
    }
    Ok(Safeguard {
        scc_module,
        safeguards,
        ..safeguard.clone()
    })
}

/// A derogation applies only without an adequacy decision for the importer; the ones a
/// recurring flow strains need their Art. 49(6) assessment documented.
fn derogation_rules(
    field: &str,
    destinations: &[&str],
    d: Derogation,
    documented: bool,
    parties: &TransferParties<'_>,
) -> Result<()> {
    let regime = parties.regime;
    let article = regime
        .derogation(d)
        .map_err(|why| RegistryError::invalid(format!("{field}.derogation"), why))?;
    for &code in destinations {
        if let Some(decision) = parties
            .adequacy
            .decision(regime, code, parties.today)
            .filter(|decision| decision.covers(&parties.importer))
        {
            let name = reference::country(code).map_or(code, |c| c.name);
            return Err(RegistryError::invalid(
                format!("{field}.mechanism"),
                format!(
                    "{} applies only in the absence of an adequacy decision or appropriate safeguards: {} ({}) covers {} in {name} ({code}) on {}; record ADEQUACY_DECISION",
                    regime.derogations(),
                    decision.reference,
                    decision.title,
                    parties.importer_name,
                    parties.today
                ),
            ));
        }
    }
    let missing = match d {
        Derogation::CompellingLegitimateInterests => Some(
            "a transfer on compelling legitimate interests (Art. 49(1), second subparagraph) must document its suitable safeguards, which the record of processing (Art. 30(1)(e)) lists".to_owned(),
        ),
        Derogation::ExplicitConsent => Some(format!(
            "consent under {article} must be explicit, specific to this transfer and given after being informed of its risks (EDPB Guidelines 2/2018, §2.1); a data flow recurs: record in `safeguards` how that consent is obtained for it (Art. 49(6))"
        )),
        d if transfers::occasional_only(d) => Some(format!(
            "{article} is for occasional transfers only (recital 111; EDPB Guidelines 2/2018: not the regular transfers of an established relationship), and a data flow recurs: record in `safeguards` why the derogation applies to it (Art. 49(6)), or use an adequacy decision or appropriate safeguards"
        )),
        _ => None,
    };
    match missing {
        Some(message) if !documented => Err(RegistryError::invalid(
            format!("{field}.safeguards"),
            message,
        )),
        _ => Ok(()),
    }
}

/// An adequacy transfer needs, for every destination, a decision of the exporter's regime in
/// force `today` whose scope covers the importer.
fn adequacy(field: &str, destinations: &[&str], parties: &TransferParties<'_>) -> Result<()> {
    let regime = parties.regime;
    for &code in destinations {
        let name = reference::country(code).map_or(code, |c| c.name);
        let Some(decision) = parties.adequacy.decision(regime, code, parties.today) else {
            return Err(RegistryError::invalid(
                format!("{field}.mechanism"),
                format!(
                    "no adequacy decision is in force for {name} ({code}) on {} under the {}: use standard contractual clauses, binding corporate rules or another Chapter V safeguard",
                    parties.today,
                    regime.name()
                ),
            ));
        };
        if !decision.covers(&parties.importer) {
            let remedy = match decision.scope {
                AdequacyScope::CertifiedOrganisations => {
                    let framework = decision
                        .certification
                        .as_deref()
                        .unwrap_or(reference::EU_US_DPF);
                    if framework == reference::EU_US_DPF {
                        " set dpfCertified on the recipient if it is certified, or use another mechanism".to_owned()
                    } else {
                        format!(
                            " list \"{framework}\" among the recipient's certifications if it is certified, or use another mechanism"
                        )
                    }
                }
                _ => " use another mechanism".to_owned(),
            };
            return Err(RegistryError::invalid(
                format!("{field}.mechanism"),
                format!(
                    "{} ({}) covers {} in {name}, and {} is outside it:{remedy}",
                    decision.reference,
                    decision.title,
                    decision.scope_in_words(),
                    parties.importer_name
                ),
            ));
        }
    }
    Ok(())
}

/// What a flow already records, for an update that keeps its parties: its transfers and its
/// destinations. A transfer it keeps as it is stays valid even where a rule added or a decision
/// lapsed since would refuse it (the findings report those), so that such a flow can still be
/// edited, and fixed.
#[derive(Clone, Debug, Default)]
pub struct Recorded<'a> {
    pub transfers: &'a [TransferInput],
    pub countries: &'a [String],
}

/// The transfers of a flow between `parties`: one per destination outside the exporter
/// regime's free-flow area, none for any other country, and none at all where the importer is
/// a mere conduit (conveying data through it is no transfer).
pub fn transfers(
    countries: &[String],
    transfers: &[TransferInput],
    parties: &TransferParties<'_>,
    recorded: &Recorded<'_>,
) -> Result<Vec<TransferInput>> {
    let regime = parties.regime;
    let conduit = matches!(
        parties.modules,
        ModuleCheck::Flow {
            rule: ModuleRule::NotATransfer,
            ..
        }
    );
    let mut by_country = HashSet::new();
    let mut out = Vec::with_capacity(transfers.len());
    for (i, transfer) in transfers.iter().enumerate() {
        let field = format!("transfers[{i}]");
        let code = country(&format!("{field}.country"), &transfer.country)?;
        if !countries.contains(&code) {
            return Err(RegistryError::invalid(
                format!("{field}.country"),
                format!("{code} is not one of the flow's destination countries"),
            ));
        }
        if !by_country.insert(code.clone()) {
            return Err(RegistryError::invalid(
                format!("{field}.country"),
                format!("{code} has more than one transfer; a flow has one per destination"),
            ));
        }
        if let Some(kept) = recorded.transfers.iter().find(|r| *r == transfer) {
            out.push(kept.clone());
            continue;
        }
        if conduit {
            return Err(RegistryError::invalid(
                field,
                format!(
                    "{} is a mere conduit in this flow: it is neither controller nor processor of what it conveys, so the flow is no transfer under Chapter V (EDPB Guidelines 05/2021, criterion 2) and takes no mechanism; its own processing as a controller is a flow of its own, with its transfers",
                    parties.importer_name
                ),
            ));
        }
        if regime.free_flow(&code) {
            return Err(RegistryError::invalid(
                format!("{field}.country"),
                format!(
                    "{code} is in {}: under the {}, the exporter's regime, sending data there is not a transfer under Chapter V",
                    regime.free_flow_area(),
                    regime.name()
                ),
            ));
        }
        let safeguard = safeguard(&field, &[code.as_str()], &transfer.safeguard, parties)?;
        out.push(TransferInput {
            country: code,
            safeguard,
        });
    }
    if conduit {
        return Ok(out);
    }
    let unrecorded = |c: &String| {
        !recorded.countries.contains(c) || recorded.transfers.iter().any(|t| &t.country == c)
    };
    if let Some(missing) = countries
        .iter()
        .find(|c| !regime.free_flow(c) && !by_country.contains(*c) && unrecorded(c))
    {
        return Err(RegistryError::invalid(
            "transfers",
            format!(
                "the flow sends data to {missing}, outside {} (the free-flow area of the {}, {}'s regime), without a transfer mechanism (Chapter V)",
                regime.free_flow_area(),
                regime.name(),
                parties.exporter.name
            ),
        ));
    }
    Ok(out)
}

fn truncate(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn keys_are_lowercase_identifiers() {
        assert!(key("key", "stripe").is_ok());
        assert!(key("key", "google_analytics_2").is_ok());
        assert!(key("key", "Stripe").is_err());
        assert!(key("key", "1password").is_err());
        assert!(key("key", "a b").is_err());
        assert!(key("key", "").is_err());
        assert!(category_key("key", "contact.phone_number").is_ok());
        assert!(category_key("key", "contact..phone").is_err());
        assert!(category_key("key", "contact.%").is_err());
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        for ok in [
            "https://stripe.com/privacy",
            "http://example.com",
            "https://a.b/c?d=e#f",
        ] {
            assert_eq!(url("u", Some(ok)).unwrap().as_deref(), Some(ok));
        }
        for bad in [
            "http://",
            "https://",
            "ftp://x.y",
            "stripe.com",
            "https://a b.c",
            "https://[::1",
        ] {
            assert!(url("u", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_texts_refuse_what_a_reader_cannot_see() {
        assert!(name("n", "Stripe\u{202E}EPIRTS").is_err());
        assert!(name("n", "Str\u{200B}ipe").is_err());
        assert!(name("n", "a\u{2066}b\u{2069}").is_err());
        assert!(text("t", Some("a\u{202A}b")).is_err());
        for hidden in [
            "\u{2060}",
            "\u{200E}",
            "\u{200F}",
            "\u{061C}",
            "\u{00AD}",
            "\u{3164}",
            "\u{E0041}",
        ] {
            assert!(name("n", &format!("Stri{hidden}pe")).is_err(), "{hidden:?}");
            assert!(
                text("t", Some(&format!("Stri{hidden}pe"))).is_err(),
                "{hidden:?}"
            );
        }
        let err = name("legalName", "Str\u{2060}ipe").unwrap_err();
        assert!(err.to_string().contains("U+2060 at character 4"), "{err}");
        // Isolates set a right-to-left passage apart in free text.
        assert!(text("t", Some("named \u{2067}\u{05D0}\u{05D1}\u{2069} here")).is_ok());
        // Joiners where a script needs them stay allowed.
        assert!(name("n", "\u{0915}\u{094D}\u{200D}\u{0937}").is_ok());
    }

    #[test]
    fn retention_periods_are_single_unit_iso_durations() {
        for ok in ["P6M", "P10Y", "P30D", "P2W"] {
            assert_eq!(
                retention_period("r", Some(ok)).unwrap().as_deref(),
                Some(ok)
            );
        }
        for bad in ["6 months", "P", "PM", "P6X", "P1Y6M", "PT6H"] {
            assert!(retention_period("r", Some(bad)).is_err(), "{bad}");
        }
    }

    use entity::RecipientKind;

    fn parties<'a>(
        table: &'a AdequacyTable,
        modules: ModuleCheck,
        dpf: bool,
    ) -> TransferParties<'a> {
        TransferParties {
            exporter: Party {
                name: "MessageBird B.V.",
                country: "NL",
            },
            regime: Regime::EuGdpr,
            modules,
            importer_name: "Acme",
            importer: Importer {
                kind: RecipientKind::ServiceProvider,
                dpf_certified: dpf,
                certifications: &[],
            },
            adequacy: table,
            today: today(),
        }
    }

    fn flow(rule: ModuleRule) -> ModuleCheck {
        ModuleCheck::Flow {
            rule,
            exporter_role: ExporterRole::Controller,
            importer_role: RecipientRole::Processor,
        }
    }

    fn mechanism(mechanism: TransferMechanism) -> Safeguard {
        Safeguard {
            mechanism,
            scc_module: None,
            derogation: None,
            safeguards: None,
            tia_date: None,
        }
    }

    fn field_of(err: RegistryError) -> String {
        match err {
            RegistryError::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_module_follows_from_the_roles() {
        let table = AdequacyTable::builtin();
        let p = parties(&table, flow(ModuleRule::Module(2)), false);
        let scc = mechanism(TransferMechanism::StandardContractualClauses);
        assert_eq!(
            safeguard("t", &["IN"], &scc, &p).unwrap().scc_module,
            Some(2)
        );
        let three = Safeguard {
            scc_module: Some(3),
            ..scc.clone()
        };
        let err = safeguard("t", &["IN"], &three, &p).unwrap_err();
        assert!(err.to_string().contains("module 2"), "{err}");
        let huge = Safeguard {
            scc_module: Some(40_000),
            ..scc
        };
        assert_eq!(
            field_of(safeguard("t", &["IN"], &huge, &p).unwrap_err()),
            "t.sccModule"
        );
    }

    #[test]
    fn uk_instruments_are_refused_from_the_eea() {
        let table = AdequacyTable::builtin();
        let p = parties(&table, flow(ModuleRule::Module(2)), false);
        let err = safeguard("t", &["US"], &mechanism(TransferMechanism::UkIdta), &p).unwrap_err();
        assert!(err.to_string().contains("EU GDPR"), "{err}");
    }

    #[test]
    fn derogations_yield_to_adequacy_and_recurring_ones_are_documented() {
        let table = AdequacyTable::builtin();
        let p = parties(&table, flow(ModuleRule::Module(2)), false);
        let contract = Safeguard {
            derogation: Some(Derogation::ContractInDataSubjectInterest),
            ..mechanism(TransferMechanism::Derogation)
        };
        assert_eq!(
            field_of(safeguard("t", &["IN"], &contract, &p).unwrap_err()),
            "t.safeguards"
        );
        let documented = Safeguard {
            safeguards: Some("Occasional: one registration per customer request.".into()),
            ..contract
        };
        assert!(safeguard("t", &["IN"], &documented, &p).is_ok());
        let err = safeguard("t", &["BR"], &documented, &p).unwrap_err();
        assert!(err.to_string().contains("2026/179"), "{err}");
    }

    #[test]
    fn adequacy_needs_a_decision_whose_scope_covers_the_importer() {
        let table = AdequacyTable::builtin();
        let p = parties(&table, flow(ModuleRule::Module(2)), false);
        let adequacy = mechanism(TransferMechanism::AdequacyDecision);
        assert!(safeguard("t", &["GB", "CH", "JP"], &adequacy, &p).is_ok());
        let err = safeguard("t", &["GB", "IN"], &adequacy, &p).unwrap_err();
        assert!(err.to_string().contains("India (IN)"), "{err}");
        assert!(safeguard("t", &["US"], &adequacy, &p).is_err());
        assert!(
            safeguard(
                "t",
                &["US"],
                &adequacy,
                &parties(&table, flow(ModuleRule::Module(2)), true)
            )
            .is_ok()
        );
        let authority = TransferParties {
            importer: Importer {
                kind: RecipientKind::PublicAuthority,
                dpf_certified: false,
                certifications: &[],
            },
            ..p
        };
        let err = safeguard("t", &["CA"], &adequacy, &authority).unwrap_err();
        assert!(err.to_string().contains("not public authorities"), "{err}");
    }

    #[test]
    fn a_tia_is_dated_in_the_past() {
        let table = AdequacyTable::builtin();
        let mut p = parties(&table, flow(ModuleRule::Module(2)), false);
        let scc = Safeguard {
            tia_date: Some(today()),
            ..mechanism(TransferMechanism::StandardContractualClauses)
        };
        assert!(safeguard("t", &["IN"], &scc, &p).is_ok());
        p.today = today().pred_opt().unwrap();
        assert!(safeguard("t", &["IN"], &scc, &p).is_err());
    }

    #[test]
    fn every_destination_outside_the_free_flow_area_needs_a_transfer() {
        let table = AdequacyTable::builtin();
        let p = parties(&table, flow(ModuleRule::Module(2)), false);
        let countries = vec!["NL".to_owned(), "US".to_owned()];
        let none = Recorded::default();
        assert!(transfers(&countries, &[], &p, &none).is_err());
        let eea_transfer = TransferInput {
            country: "NL".into(),
            safeguard: mechanism(TransferMechanism::StandardContractualClauses),
        };
        assert!(transfers(&countries, std::slice::from_ref(&eea_transfer), &p, &none).is_err());
        // From the UK, the EEA is a destination like any other.
        let uk = TransferParties {
            regime: Regime::UkGdpr,
            ..p
        };
        let ie = TransferInput {
            country: "IE".into(),
            safeguard: mechanism(TransferMechanism::AdequacyDecision),
        };
        assert!(transfers(&["IE".to_owned()], &[ie], &uk, &none).is_ok());
        assert!(transfers(&["IE".to_owned()], &[], &uk, &none).is_err());
        // A conduit takes none.
        let conduit = TransferParties {
            modules: flow(ModuleRule::NotATransfer),
            ..p
        };
        assert!(transfers(&countries, &[], &conduit, &none).is_ok());
    }
}

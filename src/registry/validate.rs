//! Input rules shared by every write. Each failure names the input field it concerns.

use super::error::{RegistryError, Result};
use super::inputs::{Safeguard, TransferInput};
use super::invisible;
use crate::reference;
use chrono::{NaiveDate, Utc};
use entity::{Derogation, TransferMechanism};
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

/// A transfer safeguard for data sent to `destinations` (the third countries it covers): each
/// mechanism carries exactly the details it needs, and an adequacy decision must be in force
/// `today` for every destination, except those in `recorded`, whose adequacy transfer the
/// registry already holds: a decision that lapsed under it is a compliance finding to act on,
/// and must not block other edits (or the recipient's retirement).
///
/// `importer_dpf_certified` is whether the importing recipient is certified under the EU-US
/// Data Privacy Framework; an adequacy transfer to the US relies on it (Decision 2023/1795).
pub fn safeguard(
    field: &str,
    destinations: &[&str],
    safeguard: &Safeguard,
    importer_dpf_certified: bool,
    today: NaiveDate,
    recorded: &[&str],
) -> Result<Safeguard> {
    instrument_details(field, safeguard)?;
    let safeguards = text(
        &format!("{field}.safeguards"),
        safeguard.safeguards.as_deref(),
    )?;
    if safeguard.derogation == Some(Derogation::CompellingLegitimateInterests)
        && safeguards.is_none()
    {
        return Err(RegistryError::invalid(
            format!("{field}.safeguards"),
            "a transfer on compelling legitimate interests (Art. 49(1), second subparagraph) must document its suitable safeguards, which the record of processing (Art. 30(1)(e)) lists",
        ));
    }
    if let Some(date) = safeguard.tia_date
        && (date > today || date < NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(date))
    {
        return Err(RegistryError::invalid(
            format!("{field}.tiaDate"),
            "the transfer impact assessment date must be a past date",
        ));
    }
    if safeguard.mechanism == TransferMechanism::AdequacyDecision {
        adequacy(field, destinations, importer_dpf_certified, today, recorded)?;
    }
    Ok(Safeguard {
        safeguards,
        ..safeguard.clone()
    })
}

/// Each mechanism carries exactly the details it needs: standard contractual clauses their
/// module, an Art. 49 transfer its derogation.
fn instrument_details(field: &str, safeguard: &Safeguard) -> Result<()> {
    let mechanism = safeguard.mechanism;
    let scc = mechanism == TransferMechanism::StandardContractualClauses;
    match (scc, safeguard.scc_module) {
        (true, None) => {
            return Err(RegistryError::invalid(
                format!("{field}.sccModule"),
                "standard contractual clauses need their module (1 controller to controller, 2 controller to processor, 3 processor to processor, 4 processor to controller)",
            ));
        }
        (true, Some(module)) if !(1..=4).contains(&module) => {
            return Err(RegistryError::invalid(
                format!("{field}.sccModule"),
                "the SCC module is 1, 2, 3 or 4",
            ));
        }
        (false, Some(_)) => {
            return Err(RegistryError::invalid(
                format!("{field}.sccModule"),
                "an SCC module applies only to standard contractual clauses",
            ));
        }
        _ => {}
    }
    let derogation = mechanism == TransferMechanism::Derogation;
    match (derogation, safeguard.derogation) {
        (true, None) => {
            return Err(RegistryError::invalid(
                format!("{field}.derogation"),
                "a transfer under Art. 49 must name the derogation it relies on",
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
    Ok(())
}

/// An adequacy transfer needs a decision in force `today` for every destination not in
/// `recorded`, and the US one a certified importer.
fn adequacy(
    field: &str,
    destinations: &[&str],
    importer_dpf_certified: bool,
    today: NaiveDate,
    recorded: &[&str],
) -> Result<()> {
    for &country in destinations {
        if !recorded.contains(&country) && !reference::has_adequacy(country, today) {
            let name = reference::country(country).map_or(country, |c| c.name);
            return Err(RegistryError::invalid(
                format!("{field}.mechanism"),
                format!(
                    "no adequacy decision is in force for {name} ({country}) on {today}: use standard contractual clauses, binding corporate rules or another Chapter V safeguard"
                ),
            ));
        }
        if country == "US" && !importer_dpf_certified {
            return Err(RegistryError::invalid(
                format!("{field}.mechanism"),
                "the US adequacy decision (EU-US Data Privacy Framework, 2023/1795) covers only certified organisations: set dpfCertified on the recipient or use another mechanism",
            ));
        }
    }
    Ok(())
}

/// The transfers of a flow: one per destination outside the EEA, none for any other country.
/// `recorded`: the destinations whose adequacy transfer the flow already has (see [`safeguard`]).
pub fn transfers(
    countries: &[String],
    transfers: &[TransferInput],
    importer_dpf_certified: bool,
    today: NaiveDate,
    recorded: &[&str],
) -> Result<Vec<TransferInput>> {
    let mut by_country = HashSet::new();
    let mut out = Vec::with_capacity(transfers.len());
    for (i, transfer) in transfers.iter().enumerate() {
        let field = format!("transfers[{i}]");
        let code = country(&format!("{field}.country"), &transfer.country)?;
        if reference::is_eea(&code) {
            return Err(RegistryError::invalid(
                format!("{field}.country"),
                format!(
                    "{code} is in the EEA: sending data there is not a transfer under Chapter V"
                ),
            ));
        }
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
        let safeguard = safeguard(
            &field,
            &[code.as_str()],
            &transfer.safeguard,
            importer_dpf_certified,
            today,
            recorded,
        )?;
        out.push(TransferInput {
            country: code,
            safeguard,
        });
    }
    if let Some(missing) = countries
        .iter()
        .find(|c| !reference::is_eea(c) && !by_country.contains(*c))
    {
        return Err(RegistryError::invalid(
            "transfers",
            format!(
                "the flow sends data to {missing}, outside the EEA, without a transfer mechanism (GDPR Chapter V)"
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

    #[test]
    fn scc_needs_a_module_and_derogations_name_theirs() {
        let scc = Safeguard {
            mechanism: TransferMechanism::StandardContractualClauses,
            scc_module: None,
            derogation: None,
            safeguards: None,
            tia_date: None,
        };
        assert!(safeguard("t", &["IN"], &scc, false, today(), &[]).is_err());
        let scc = Safeguard {
            scc_module: Some(2),
            ..scc
        };
        assert!(safeguard("t", &["IN"], &scc, false, today(), &[]).is_ok());
        let compelling = Safeguard {
            mechanism: TransferMechanism::Derogation,
            scc_module: None,
            derogation: Some(Derogation::CompellingLegitimateInterests),
            safeguards: None,
            tia_date: None,
        };
        let err = safeguard("t", &["IN"], &compelling, false, today(), &[]).unwrap_err();
        assert!(matches!(err, RegistryError::Invalid { ref field, .. } if field == "t.safeguards"));
    }

    #[test]
    fn us_adequacy_needs_dpf_certification() {
        let adequacy = Safeguard {
            mechanism: TransferMechanism::AdequacyDecision,
            scc_module: None,
            derogation: None,
            safeguards: None,
            tia_date: None,
        };
        assert!(safeguard("t", &["US"], &adequacy, false, today(), &[]).is_err());
        assert!(safeguard("t", &["US"], &adequacy, true, today(), &[]).is_ok());
        // Before the Data Privacy Framework (Schrems II to July 2023) no decision covered the US.
        let schrems_ii = NaiveDate::from_ymd_opt(2021, 1, 1).unwrap();
        assert!(safeguard("t", &["US"], &adequacy, true, schrems_ii, &[]).is_err());
        // A transfer already recorded on the decision is kept (the lapse is a finding)...
        assert!(safeguard("t", &["US"], &adequacy, true, schrems_ii, &["US"]).is_ok());
        // ...but not for an importer outside the decision's scope.
        assert!(safeguard("t", &["US"], &adequacy, false, today(), &["US"]).is_err());
    }

    #[test]
    fn adequacy_needs_a_decision_in_force_for_every_destination() {
        let adequacy = Safeguard {
            mechanism: TransferMechanism::AdequacyDecision,
            scc_module: None,
            derogation: None,
            safeguards: None,
            tia_date: None,
        };
        assert!(safeguard("t", &["GB", "CH", "JP"], &adequacy, false, today(), &[]).is_ok());
        let err = safeguard("t", &["GB", "IN"], &adequacy, false, today(), &[]).unwrap_err();
        assert!(
            matches!(err, RegistryError::Invalid { ref field, ref message } if field == "t.mechanism" && message.contains("India (IN)")),
            "{err:?}"
        );
    }

    #[test]
    fn a_tia_is_dated_in_the_past() {
        let scc = Safeguard {
            mechanism: TransferMechanism::StandardContractualClauses,
            scc_module: Some(2),
            derogation: None,
            safeguards: None,
            tia_date: Some(today()),
        };
        assert!(safeguard("t", &["IN"], &scc, false, today(), &[]).is_ok());
        let yesterday = today().pred_opt().unwrap();
        assert!(safeguard("t", &["IN"], &scc, false, yesterday, &[]).is_err());
    }

    #[test]
    fn every_destination_outside_the_eea_needs_a_transfer() {
        let countries = vec!["NL".to_owned(), "US".to_owned()];
        assert!(transfers(&countries, &[], false, today(), &[]).is_err());
        let eea_transfer = TransferInput {
            country: "NL".into(),
            safeguard: Safeguard {
                mechanism: TransferMechanism::StandardContractualClauses,
                scc_module: Some(2),
                derogation: None,
                safeguards: None,
                tia_date: None,
            },
        };
        assert!(transfers(&countries, &[eea_transfer], false, today(), &[]).is_err());
    }
}

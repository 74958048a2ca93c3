//! Readable renderings of the record's enum names and codes, and the text safety rules every
//! exporter shares (formula-injection neutralisation, Excel's cell limit, Markdown escaping).
//!
//! Everything here produces GDPR wording; the caller applies the terminology afterwards.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::ropa::model::{Severity, TransferEntry};
use entity::{Derogation, TransferMechanism};

/// `PAYMENT_SERVICE_PROVIDER` → `Payment service provider`. Text that is not an enum name (it has
/// lower-case letters or spaces, as free text entered in the registry does) is kept as it is.
pub(super) fn humanize_enum(name: &str) -> String {
    let is_enum_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !is_enum_name {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len());
    for (i, word) in name.split('_').filter(|w| !w.is_empty()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let lower = word.to_ascii_lowercase();
        // Acronyms read better as they are.
        if matches!(
            word,
            "UK" | "EU" | "EEA" | "US" | "DPA" | "TIA" | "ID" | "IP"
        ) {
            out.push_str(word);
        } else if i == 0 {
            let mut chars = lower.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push_str(&lower);
        }
    }
    out
}

/// An Art. 6(1) lawful basis, citing its point.
pub(super) fn legal_basis(name: &str) -> String {
    let known = match name {
        "CONSENT" => "Consent (Art. 6(1)(a))",
        "CONTRACT" => "Contract (Art. 6(1)(b))",
        "LEGAL_OBLIGATION" => "Legal obligation (Art. 6(1)(c))",
        "VITAL_INTERESTS" => "Vital interests (Art. 6(1)(d))",
        "PUBLIC_TASK" => "Public task (Art. 6(1)(e))",
        "LEGITIMATE_INTERESTS" => "Legitimate interests (Art. 6(1)(f))",
        other => return humanize_enum(other),
    };
    known.to_owned()
}

/// An Art. 9(2) condition. The registry holds it as free text; the usual enum-like spellings are
/// rendered with their point, anything else is shown as entered.
pub(super) fn special_category_condition(condition: &str) -> String {
    let known = match condition {
        "EXPLICIT_CONSENT" => "Explicit consent (Art. 9(2)(a))",
        "EMPLOYMENT" | "EMPLOYMENT_SOCIAL_SECURITY" | "EMPLOYMENT_AND_SOCIAL_SECURITY" => {
            "Employment, social security and social protection law (Art. 9(2)(b))"
        }
        "VITAL_INTERESTS" => "Vital interests of a person incapable of consent (Art. 9(2)(c))",
        "NOT_FOR_PROFIT_BODY" | "NOT_FOR_PROFIT" => {
            "Legitimate activities of a not-for-profit body (Art. 9(2)(d))"
        }
        "MADE_PUBLIC" | "MANIFESTLY_MADE_PUBLIC" => {
            "Data manifestly made public by the data subject (Art. 9(2)(e))"
        }
        "LEGAL_CLAIMS" => "Establishment, exercise or defence of legal claims (Art. 9(2)(f))",
        "SUBSTANTIAL_PUBLIC_INTEREST" => "Substantial public interest (Art. 9(2)(g))",
        "HEALTH_OR_SOCIAL_CARE" | "HEALTH_CARE" | "PREVENTIVE_MEDICINE" => {
            "Health or social care (Art. 9(2)(h))"
        }
        "PUBLIC_HEALTH" => "Public interest in public health (Art. 9(2)(i))",
        "ARCHIVING_RESEARCH_STATISTICS" | "ARCHIVING" | "RESEARCH" => {
            "Archiving, scientific or historical research or statistics (Art. 9(2)(j))"
        }
        other => return humanize_enum(other),
    };
    known.to_owned()
}

/// A recipient kind (`PAYMENT_SERVICE_PROVIDER` → `Payment service provider`).
pub(super) fn recipient_kind(kind: &str) -> String {
    humanize_enum(kind)
}

/// A recipient's role in a flow, in GDPR terms.
pub(super) fn role(role: &str) -> String {
    let known = match role {
        "CONTROLLER" => "Independent controller",
        "JOINT_CONTROLLER" => "Joint controller",
        "PROCESSOR" => "Processor",
        "MERE_CONDUIT" => "Mere conduit (transmission only)",
        other => return humanize_enum(other),
    };
    known.to_owned()
}

/// A 2021/914 SCC module with its parties.
fn scc_module(module: i16) -> String {
    let parties = match module {
        1 => " (controller to controller)",
        2 => " (controller to processor)",
        3 => " (processor to processor)",
        4 => " (processor to controller)",
        _ => "",
    };
    format!("module {module}{parties}")
}

/// An Art. 49 derogation, citing its point.
fn derogation(derogation: Derogation) -> &'static str {
    match derogation {
        Derogation::ExplicitConsent => "Art. 49(1)(a) explicit consent of the data subject",
        Derogation::ContractWithDataSubject => "Art. 49(1)(b) contract with the data subject",
        Derogation::ContractInDataSubjectInterest => {
            "Art. 49(1)(c) contract in the data subject's interest"
        }
        Derogation::ImportantPublicInterest => "Art. 49(1)(d) important reasons of public interest",
        Derogation::LegalClaims => {
            "Art. 49(1)(e) establishment, exercise or defence of legal claims"
        }
        Derogation::VitalInterests => "Art. 49(1)(f) vital interests",
        Derogation::PublicRegister => "Art. 49(1)(g) transfer from a public register",
        Derogation::CompellingLegitimateInterests => {
            "Art. 49(1), second subparagraph, compelling legitimate interests"
        }
    }
}

/// The Chapter V instrument of a transfer, with its SCC module or derogation.
pub(super) fn instrument(transfer: &TransferEntry) -> String {
    use TransferMechanism::*;
    match transfer.mechanism {
        AdequacyDecision => "Adequacy decision (Art. 45)".to_owned(),
        StandardContractualClauses => match transfer.scc_module {
            Some(module) => format!(
                "Standard contractual clauses (Art. 46(2)(c)), {}",
                scc_module(module)
            ),
            None => "Standard contractual clauses (Art. 46(2)(c))".to_owned(),
        },
        UkIdta => "UK International Data Transfer Agreement (IDTA)".to_owned(),
        UkAddendum => "UK Addendum to the EU standard contractual clauses".to_owned(),
        BindingCorporateRules => "Binding corporate rules (Art. 47)".to_owned(),
        CodeOfConduct => "Approved code of conduct (Art. 46(2)(e))".to_owned(),
        Certification => "Approved certification mechanism (Art. 46(2)(f))".to_owned(),
        AdHocClauses => "Ad hoc contractual clauses (Art. 46(3)(a))".to_owned(),
        Derogation => match transfer.derogation {
            Some(d) => format!("Derogation: {}", derogation(d)),
            None => "Derogation (Art. 49)".to_owned(),
        },
    }
}

/// The rendered `instrument` followed by the transfer's documented safeguards (Art. 30(1)(e) wants
/// them for the compelling-legitimate-interests derogation).
pub(super) fn with_safeguards(transfer: &TransferEntry, instrument: String) -> String {
    let mut out = instrument;
    if let Some(safeguards) = transfer
        .safeguards
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        out.push_str("; safeguards: ");
        out.push_str(safeguards.trim());
    } else if transfer.derogation == Some(Derogation::CompellingLegitimateInterests) {
        // The record must carry them; say so rather than stay silent.
        out.push_str("; safeguards: not documented");
    }
    out
}

/// `United States (US)`, or the code alone when the registry has no name for it.
pub(super) fn country(code: &str, name: &str) -> String {
    if name.trim().is_empty() {
        code.to_owned()
    } else if code.is_empty() {
        name.to_owned()
    } else {
        format!("{name} ({code})")
    }
}

/// `Recipient → Country (CC): mechanism; TIA 2024-03-01`, with the mechanism as rendered by
/// [`with_safeguards`].
pub(super) fn transfer_line(transfer: &TransferEntry, mechanism: &str) -> String {
    let mut out = format!(
        "{} → {}: {mechanism}",
        transfer.recipient,
        country(&transfer.country, &transfer.country_name),
    );
    if let Some(date) = transfer.tia_date {
        // Writing into a String cannot fail.
        // NaiveDate displays as ISO 8601 (2024-03-01).
        let _ = write!(out, "; TIA {date}");
    }
    out
}

/// An ISO 8601 duration (`P6M`, `P1Y6M`, `P540D`, `PT12H`) in words; `None` when it does not parse.
pub(super) fn iso_duration(period: &str) -> Option<String> {
    let rest = period.trim().strip_prefix('P')?;
    let (date_part, time_part) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut parts: Vec<String> = Vec::new();
    let mut push_units = |text: &str, units: &[(char, &str, &str)]| -> Option<()> {
        let mut number = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                number.push(if c == ',' { '.' } else { c });
                continue;
            }
            let (_, one, many) = units.iter().find(|(u, _, _)| *u == c)?;
            if number.is_empty() {
                return None;
            }
            let unit = if number == "1" { one } else { many };
            parts.push(format!("{number} {unit}"));
            number.clear();
        }
        number.is_empty().then_some(())
    };
    push_units(
        date_part,
        &[
            ('Y', "year", "years"),
            ('M', "month", "months"),
            ('W', "week", "weeks"),
            ('D', "day", "days"),
        ],
    )?;
    if let Some(time) = time_part {
        if time.is_empty() {
            return None;
        }
        push_units(
            time,
            &[
                ('H', "hour", "hours"),
                ('M', "minute", "minutes"),
                ('S', "second", "seconds"),
            ],
        )?;
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join(", "))
}

/// The time limit for erasure: the period in words, then the reason.
pub(super) fn retention(period: Option<&str>, reason: Option<&str>) -> Option<String> {
    let period = period
        .filter(|p| !p.trim().is_empty())
        .map(|p| iso_duration(p).unwrap_or_else(|| p.to_owned()));
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    match (period, reason) {
        (Some(p), Some(r)) => Some(format!("{p} — {r}")),
        (Some(p), None) => Some(p),
        (None, Some(r)) => Some(r.to_owned()),
        (None, None) => None,
    }
}

/// A finding's severity as a word.
pub(super) fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Info",
    }
}

/// OWASP's defence against CSV/formula injection: a cell that a spreadsheet would read as a
/// formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`.
pub fn neutralise(value: &str) -> Cow<'_, str> {
    match value.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    }
}

/// Excel refuses cells over 32,767 characters (UTF-16 units); longer text is cut with a note
/// rather than failing the whole export. The JSON export always has the full text.
pub(super) fn fit_excel_cell(value: &str) -> Cow<'_, str> {
    const MAX: usize = 32_767;
    const NOTE: &str = " … (truncated: see the JSON export)";
    // A UTF-16 unit is never more than the UTF-8 bytes it came from, so short text is fine.
    if value.len() <= MAX {
        return Cow::Borrowed(value);
    }
    if value.encode_utf16().count() <= MAX {
        return Cow::Borrowed(value);
    }
    let budget = MAX - NOTE.encode_utf16().count();
    let mut used = 0;
    let mut end = 0;
    for (i, c) in value.char_indices() {
        if used + c.len_utf16() > budget {
            break;
        }
        used += c.len_utf16();
        end = i + c.len_utf8();
    }
    Cow::Owned(format!("{}{NOTE}", &value[..end]))
}

/// Escapes text for a Markdown table cell or heading: Markdown's punctuation (pipes included,
/// which would otherwise split the cell) is backslash-escaped and line breaks become `<br>`.
pub(super) fn markdown_inline(value: &str, out: &mut String) {
    let special = |c: char| {
        matches!(
            c,
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '~' | '&' | '#' | '\n' | '\r'
        )
    };
    let mut rest = value;
    // Copy the plain runs whole; most text has few characters to escape.
    while let Some(at) = rest.find(special) {
        out.push_str(&rest[..at]);
        let Some(c) = rest[at..].chars().next() else {
            break;
        };
        match c {
            '\n' => out.push_str("<br>"),
            '\r' => {}
            _ => {
                out.push('\\');
                out.push(c);
            }
        }
        rest = &rest[at + c.len_utf8()..];
    }
    out.push_str(rest);
}

/// A short identifier (key, rule code) as inline code when that is safe, escaped text otherwise.
pub(super) fn markdown_code(value: &str, out: &mut String) {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/'));
    if plain {
        out.push('`');
        out.push_str(value);
        out.push('`');
    } else {
        markdown_inline(value, out);
    }
}

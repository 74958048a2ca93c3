//! Readable renderings of the record's enum names and codes, and the text safety rules every
//! exporter shares (formula-injection neutralisation, Excel's cell limit, Markdown escaping).
//!
//! Everything here produces GDPR wording; the caller applies the terminology afterwards.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::reference::Regime;
use crate::registry::transfers;
use crate::ropa::model::{Severity, TransferEntry};
use entity::{Derogation, RecipientKind, RecipientRole, RetentionStart, TransferMechanism};

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
    match module {
        1..=4 => format!("module {module} ({})", transfers::module_parties(module)),
        _ => format!("module {module}"),
    }
}

/// A derogation's words, without its provision.
fn derogation(derogation: Derogation) -> &'static str {
    match derogation {
        Derogation::ExplicitConsent => "explicit consent of the data subject",
        Derogation::ContractWithDataSubject => "contract with the data subject",
        Derogation::ContractInDataSubjectInterest => "contract in the data subject's interest",
        Derogation::ImportantPublicInterest => "important reasons of public interest",
        Derogation::LegalClaims => "establishment, exercise or defence of legal claims",
        Derogation::VitalInterests => "vital interests",
        Derogation::PublicRegister => "transfer from a public register",
        Derogation::CompellingLegitimateInterests => "compelling legitimate interests",
    }
}

/// The Chapter V instrument of a transfer, with its SCC module or derogation, citing the
/// provision of the exporter's regime (the EU GDPR's without naming it, as the record is an
/// EU GDPR record first).
pub(super) fn instrument(transfer: &TransferEntry) -> String {
    use TransferMechanism::*;
    let regime = transfer.regime;
    let eu = regime == Regime::EuGdpr;
    let cite = |eu_point: &str| {
        if eu {
            format!("Art. {eu_point}")
        } else {
            regime
                .instrument(transfer.mechanism)
                .map_or_else(|_| regime.name().to_owned(), str::to_owned)
        }
    };
    let with_module = |text: String| match transfer.scc_module {
        Some(module) => format!("{text}, {}", scc_module(module)),
        None => text,
    };
    match transfer.mechanism {
        AdequacyDecision => format!("Adequacy decision ({})", cite("45")),
        StandardContractualClauses if regime == Regime::SwissFadp => with_module(format!(
            "Standard contractual clauses with the Swiss amendments ({})",
            cite("46(2)(c)")
        )),
        StandardContractualClauses => with_module(format!(
            "Standard contractual clauses ({})",
            cite("46(2)(c)")
        )),
        UkIdta => "UK International Data Transfer Agreement (IDTA)".to_owned(),
        UkAddendum => with_module("UK Addendum to the EU standard contractual clauses".to_owned()),
        BindingCorporateRules => format!("Binding corporate rules ({})", cite("47")),
        CodeOfConduct => format!("Approved code of conduct ({})", cite("46(2)(e)")),
        Certification => format!("Approved certification mechanism ({})", cite("46(2)(f)")),
        AdHocClauses => format!("Ad hoc contractual clauses ({})", cite("46(3)(a)")),
        Derogation => match transfer.derogation {
            Some(d) => {
                let article = regime
                    .derogation(d)
                    .unwrap_or_else(|_| regime.derogations().to_owned());
                if eu {
                    let article = article.trim_end_matches(" GDPR");
                    format!("Derogation: {article} {}", derogation(d))
                } else {
                    format!("Derogation ({article}): {}", derogation(d))
                }
            }
            None => format!("Derogation ({})", cite("49")),
        },
    }
}

/// A recipient's type in the words of the CNIL template's list ("Destinataires", sheet
/// "5 - Listes"): a processor is a "Sous-traitant", a controller a partner, anything else
/// "Autre (Préciser)", which the "Précisions" column details.
pub(super) fn cnil_recipient_type(role: RecipientRole, kind: RecipientKind) -> &'static str {
    match (role, kind) {
        (RecipientRole::Processor, _) => "Sous-traitants",
        (_, RecipientKind::PublicAuthority) | (RecipientRole::MereConduit, _) => "Autre (Préciser)",
        (RecipientRole::Controller | RecipientRole::JointController, _) => {
            "Partenaires institutionnels ou commerciaux"
        }
    }
}

/// A transfer's safeguard in the words of the CNIL template's list ("Type de Garanties",
/// sheet "5 - Listes"), with its module, derogation and documented position.
pub(super) fn cnil_guarantee(transfer: &TransferEntry) -> String {
    use TransferMechanism::*;
    let module = transfer
        .scc_module
        .map(|m| format!(", module {m}"))
        .unwrap_or_default();
    let mut out = match transfer.mechanism {
        StandardContractualClauses if transfer.regime == Regime::SwissFadp => {
            format!("Clauses contractuelles types (CCT) avec les amendements suisses{module}")
        }
        StandardContractualClauses => format!("Clauses contractuelles types (CCT){module}"),
        UkAddendum => {
            format!("Clauses contractuelles types (CCT) avec l'addendum du Royaume-Uni{module}")
        }
        UkIdta => "Accord de transfert international du Royaume-Uni (IDTA)".to_owned(),
        BindingCorporateRules => "Règles d'entreprise contraignantes (BCR)".to_owned(),
        AdequacyDecision => "Pays adéquat".to_owned(),
        CodeOfConduct => "Code de conduite".to_owned(),
        Certification => "Certification".to_owned(),
        AdHocClauses => "Clauses contractuelles ad hoc (art. 46.3.a)".to_owned(),
        Derogation => match transfer
            .derogation
            .and_then(|d| transfer.regime.derogation(d).ok())
        {
            Some(article) => format!("Dérogations (art 49) : {article}"),
            None => "Dérogations (art 49)".to_owned(),
        },
    };
    if transfer.regime != Regime::EuGdpr {
        out.push_str(&format!(" ({})", transfer.regime.name()));
    }
    if let Some(position) = transfer
        .safeguards
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        out.push_str(" ; garanties documentées : ");
        out.push_str(position);
    }
    out
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

/// Who exports a transfer, under which regime: `MessageBird B.V. (NL), EU GDPR`.
pub(super) fn exporter(transfer: &TransferEntry) -> String {
    let name = if transfer.exporter_country.is_empty() {
        transfer.exporter.clone()
    } else {
        format!("{} ({})", transfer.exporter, transfer.exporter_country)
    };
    format!("{name}, {}", transfer.regime.name())
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

/// The time limit for erasure in words (Art. 30(1)(f)): the period and what it runs from
/// ("12 months after the end of the contract"), or "For the duration of the contract".
pub fn retention_words(period: Option<&str>, from: Option<RetentionStart>) -> String {
    let period = period
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| iso_duration(p).unwrap_or_else(|| p.to_owned()));
    let start = |from: RetentionStart| match from {
        RetentionStart::Collection => "after collection",
        RetentionStart::EndOfContract => "after the end of the contract",
        RetentionStart::LastActivity => "after the last activity",
        RetentionStart::LegalObligationEvent => "after the event the legal obligation runs from",
        RetentionStart::DurationOfContract => "for the duration of the contract",
    };
    match (period, from) {
        (None, Some(RetentionStart::DurationOfContract)) => {
            "For the duration of the contract".to_owned()
        }
        (Some(p), Some(RetentionStart::DurationOfContract)) => {
            format!("For the duration of the contract, then {p}")
        }
        (Some(p), Some(from)) => format!("{p} {}", start(from)),
        (Some(p), None) => format!("{p} (start not recorded)"),
        (None, Some(from)) => format!("Not recorded (a period {})", start(from)),
        (None, None) => "Not recorded".to_owned(),
    }
}

/// The time limit for erasure: the period and its start in words, then the reason.
pub(super) fn retention(
    period: Option<&str>,
    from: Option<RetentionStart>,
    reason: Option<&str>,
) -> Option<String> {
    let recorded = period.is_some_and(|p| !p.trim().is_empty()) || from.is_some();
    let words = recorded.then(|| retention_words(period, from));
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    match (words, reason) {
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
        Severity::Warning => "Warning",
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

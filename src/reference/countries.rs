//! Countries (ISO 3166-1 alpha-2) and EEA membership.
//!
//! Every location in the registry — where a subprocessor is established, where
//! it stores or accesses data — is recorded as an ISO 3166-1 alpha-2 code.
//! Whether that code is inside the European Economic Area decides whether a
//! data flow is a restricted transfer under GDPR Chapter V, so the lookup here
//! is deliberately strict: a code either is a known country or it is rejected,
//! never guessed at.

/// A country or territory with an ISO 3166-1 alpha-2 code.
///
/// Territories with their own code (Jersey, the Faroe Islands, Hong Kong, …)
/// are separate entries: several of them have their own adequacy decision, or
/// none, independently of the state they are associated with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Country {
    /// The ISO 3166-1 alpha-2 code, uppercase (e.g. `"NL"`).
    pub alpha2: &'static str,
    /// The common English short name, for display (e.g. `"Netherlands"`,
    /// `"United States"`). Not a legal or official name; do not match on it.
    pub name: &'static str,
}

/// The 30 states of the European Economic Area: the 27 EU member states plus
/// Iceland (`IS`), Liechtenstein (`LI`) and Norway (`NO`), sorted by code.
///
/// Personal data moves freely between these states; sending it anywhere else
/// is a transfer to a third country that needs a Chapter V basis (an adequacy
/// decision, appropriate safeguards such as SCCs, or a derogation).
///
/// The codes are ISO codes, so Greece is `GR` (EU documents often write `EL`).
/// Only the member states' own codes are listed: territories with a separate
/// ISO code are not, even where EU law applies there — see [`is_eea`].
pub const EEA: [&str; 30] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS",
    "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// Looks up a country by its ISO 3166-1 alpha-2 code.
///
/// Only the exact canonical form is accepted: two uppercase ASCII letters that
/// are an assigned ISO code (`"NL"`). Lowercase (`"nl"`), alpha-3 (`"NLD"`),
/// names (`"Netherlands"`) and padded input (`" NL"`) all return `None`, so
/// that the registry stores one spelling per country and a typo is caught at
/// entry rather than silently matching something.
///
/// `"XK"` (Kosovo) is also rejected: it is a user-assigned code that ISO has
/// not allocated, although the EU and others use it.
#[must_use]
pub fn country(code: &str) -> Option<Country> {
    // celes matches case-insensitively; the canonical-form check is ours.
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) || code == "XK" {
        return None;
    }
    let found = celes::Country::from_alpha2(code).ok()?;
    Some(Country {
        alpha2: found.alpha2,
        name: short_name(found.alpha2).unwrap_or(found.long_name),
    })
}

/// Whether `code` is one of the 30 EEA states in [`EEA`].
///
/// Takes the same canonical uppercase code as [`country`]; anything else,
/// including `"nl"`, is `false`.
///
/// Caution: some ISO codes denote territories that are part of an EU member
/// state and where the GDPR applies as in the rest of that state — the French
/// outermost regions `GF`, `GP`, `MQ`, `RE`, `YT`, `MF`, and the Åland Islands
/// (`AX`, Finland). This function returns `false` for them, so record such a
/// location under the member state's code (`FR`, `FI`) to avoid it being
/// treated as a third-country transfer. Conversely Greenland (`GL`), the Faroe
/// Islands (`FO`) and the overseas countries and territories (e.g. `NC`, `PF`,
/// `AW`, `CW`) are outside the EU and correctly `false`.
#[must_use]
pub fn is_eea(code: &str) -> bool {
    EEA.binary_search(&code).is_ok()
}

/// Display names for codes where celes' `long_name` is not the name a reader
/// expects. celes holds official-style forms in title case ("The United States
/// Of America", "Isle Of Man", "Coted Ivoire"); these follow common English
/// short names instead (close to the UN/ISO short forms, without a leading
/// "The", with "and"/"of" in lower case and with diacritics restored).
/// Sorted by code so lookup can binary-search.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("AE", "United Arab Emirates"),
    ("AG", "Antigua and Barbuda"),
    ("AX", "Åland Islands"),
    ("BA", "Bosnia and Herzegovina"),
    ("BL", "Saint Barthélemy"),
    ("BN", "Brunei"),
    ("BQ", "Bonaire, Sint Eustatius and Saba"),
    ("BS", "Bahamas"),
    ("CC", "Cocos (Keeling) Islands"),
    ("CD", "Democratic Republic of the Congo"),
    ("CF", "Central African Republic"),
    ("CG", "Republic of the Congo"),
    ("CI", "Côte d'Ivoire"),
    ("CK", "Cook Islands"),
    ("CW", "Curaçao"),
    ("DO", "Dominican Republic"),
    ("FK", "Falkland Islands"),
    ("FM", "Micronesia"),
    ("FO", "Faroe Islands"),
    ("GB", "United Kingdom"),
    ("GM", "Gambia"),
    ("GS", "South Georgia and the South Sandwich Islands"),
    ("GW", "Guinea-Bissau"),
    ("HM", "Heard Island and McDonald Islands"),
    ("IM", "Isle of Man"),
    ("IR", "Iran"),
    ("KM", "Comoros"),
    ("KN", "Saint Kitts and Nevis"),
    ("KP", "North Korea"),
    ("KR", "South Korea"),
    ("KY", "Cayman Islands"),
    ("LA", "Laos"),
    ("MD", "Moldova"),
    ("MF", "Saint Martin"),
    ("MH", "Marshall Islands"),
    ("MK", "North Macedonia"),
    ("MP", "Northern Mariana Islands"),
    ("NE", "Niger"),
    ("NL", "Netherlands"),
    ("PH", "Philippines"),
    ("PM", "Saint Pierre and Miquelon"),
    ("PS", "Palestine"),
    ("RE", "Réunion"),
    ("RU", "Russia"),
    ("SD", "Sudan"),
    ("SH", "Saint Helena, Ascension and Tristan da Cunha"),
    ("SJ", "Svalbard and Jan Mayen"),
    ("ST", "São Tomé and Príncipe"),
    ("SX", "Sint Maarten"),
    ("SY", "Syria"),
    ("TC", "Turks and Caicos Islands"),
    ("TF", "French Southern Territories"),
    ("TL", "Timor-Leste"),
    ("TT", "Trinidad and Tobago"),
    ("TW", "Taiwan"),
    ("TZ", "Tanzania"),
    ("UM", "United States Minor Outlying Islands"),
    ("US", "United States"),
    ("VA", "Holy See"),
    ("VC", "Saint Vincent and the Grenadines"),
    ("VE", "Venezuela"),
    ("VI", "United States Virgin Islands"),
    ("WF", "Wallis and Futuna"),
];

fn short_name(alpha2: &str) -> Option<&'static str> {
    SHORT_NAMES
        .binary_search_by(|(code, _)| code.cmp(&alpha2))
        .ok()
        .map(|i| SHORT_NAMES[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_exact_codes() {
        assert_eq!(
            country("NL"),
            Some(Country {
                alpha2: "NL",
                name: "Netherlands"
            })
        );
        assert_eq!(country("US").map(|c| c.name), Some("United States"));
        assert_eq!(country("GB").map(|c| c.name), Some("United Kingdom"));
        assert_eq!(country("CH").map(|c| c.name), Some("Switzerland"));
        assert_eq!(country("DE").map(|c| c.name), Some("Germany"));
    }

    #[test]
    fn rejects_non_canonical_codes() {
        for bad in [
            "nl",
            "Nl",
            "nL",
            "NLD",
            "Netherlands",
            " NL",
            "NL ",
            "N",
            "",
            "XX",
            "XK",
            "ZZ",
            "1A",
            "ÑL",
        ] {
            assert_eq!(country(bad), None, "{bad:?} should be rejected");
            assert!(!is_eea(bad), "{bad:?} should not be EEA");
        }
    }

    #[test]
    fn eea_membership() {
        assert!(is_eea("NL"));
        assert!(is_eea("NO"));
        assert!(is_eea("IS"));
        assert!(is_eea("LI"));
        assert!(!is_eea("CH"));
        assert!(!is_eea("GB"));
        assert!(!is_eea("US"));
        assert!(!is_eea("nl"));
    }

    #[test]
    fn eea_list_is_sorted_unique_and_valid() {
        assert_eq!(EEA.len(), 30);
        assert!(
            EEA.windows(2).all(|w| w[0] < w[1]),
            "EEA must be sorted and unique"
        );
        for code in EEA {
            assert!(country(code).is_some(), "{code} is not a valid country");
            assert!(is_eea(code));
        }
    }

    #[test]
    fn every_celes_country_round_trips_with_a_tidy_name() {
        let mut count = 0;
        for c in celes::Country::get_countries() {
            if c.alpha2 == "XK" {
                continue;
            }
            let ours = country(c.alpha2).expect("celes code should be accepted");
            assert_eq!(ours.alpha2, c.alpha2);
            // Guards against celes adding or renaming entries into the awkward
            // title-case official form that `short_name` exists to replace.
            assert!(
                !ours.name.starts_with("The "),
                "{}: {}",
                c.alpha2,
                ours.name
            );
            for word in [" Of ", " And ", " The "] {
                assert!(!ours.name.contains(word), "{}: {}", c.alpha2, ours.name);
            }
            count += 1;
        }
        assert_eq!(count, 249, "ISO 3166-1 assigns 249 alpha-2 codes");
    }

    #[test]
    fn short_names_are_sorted_and_for_real_codes() {
        assert!(SHORT_NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        for (code, name) in SHORT_NAMES {
            // An override for a code celes does not know would be dead data.
            assert!(celes::Country::from_alpha2(code).is_ok(), "{code}");
            assert_eq!(country(code).map(|c| c.name), Some(*name));
        }
    }
}

//! Reading and writing the manifest's text: every problem of a file listed with its line and
//! field, and the registry written back out in the same format.

use crate::registry::inputs::{
    ActivityInput, DataCategoryInput, FlowInput, OrganizationInput, RecipientInput, TermInput,
};
use crate::seed::format::RegistryFile;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

/// The sections of the file, in the order it writes them.
pub const SECTIONS: [&str; 7] = [
    "organization",
    "data_categories",
    "data_subjects",
    "products",
    "recipients",
    "processing_activities",
    "data_flows",
];

/// One thing wrong with a manifest: where (its line, when known; the entry, as
/// `recipients[3]`, and its key; the field) and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// 1-based line of the entry or field in the file.
    pub line: Option<usize>,
    /// The entry: `recipients[3]`, `organization`, or empty for the file as a whole.
    pub entry: String,
    /// The entry's key (or, for a data flow, what identifies it).
    pub key: Option<String>,
    /// The field, as the file names it (`processing_locations`, `transfers[0].mechanism`).
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.entry.is_empty() {
            write!(f, "{}", self.entry)?;
            if let Some(key) = &self.key {
                write!(f, " ({key})")?;
            }
            match &self.field {
                Some(field) => write!(f, ".{field}: ")?,
                None => write!(f, ": ")?,
            }
        } else if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// An API field name (`processingLocations[2]`) as the file writes it
/// (`processing_locations[2]`).
pub fn file_field(api: &str) -> String {
    let mut out = String::with_capacity(api.len() + 4);
    for c in api.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    // The API names references by id, the file by key.
    for (api, file) in [
        ("activity_id", "activity"),
        ("recipient_id", "recipient"),
        ("via_recipient_id", "via"),
        ("exporter_id", "exporter"),
    ] {
        if out == api || out.starts_with(&format!("{api}.")) {
            return out.replacen(api, file, 1);
        }
    }
    out
}

/// Where each entry of the file starts: the line of each section and of each item in it.
/// Found from the text's block structure (the layout `subreg export` writes and people
/// edit); a file in flow style gets no lines, only entries and fields.
#[derive(Clone, Debug, Default)]
pub struct Locator {
    lines: Vec<String>,
    /// Per section: its line, and the first line of each item.
    sections: Vec<(String, usize, Vec<usize>)>,
}

impl Locator {
    pub fn new(text: &str) -> Self {
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let mut sections: Vec<(String, usize, Vec<usize>)> = Vec::new();
        let mut item_indent: Option<usize> = None;
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            if indent == 0 && !trimmed.starts_with('-') {
                if let Some((name, _)) = trimmed.split_once(':') {
                    sections.push((name.trim().to_owned(), i + 1, Vec::new()));
                    item_indent = None;
                }
                continue;
            }
            if trimmed == "-" || trimmed.starts_with("- ") {
                let Some((_, _, items)) = sections.last_mut() else {
                    continue;
                };
                match item_indent {
                    None => {
                        item_indent = Some(indent);
                        items.push(i + 1);
                    }
                    Some(at) if at == indent => items.push(i + 1),
                    _ => {}
                }
            }
        }
        Self { lines, sections }
    }

    fn section(&self, name: &str) -> Option<&(String, usize, Vec<usize>)> {
        self.sections.iter().find(|(n, _, _)| n == name)
    }

    /// The line of item `index` of `section` (of the section itself without an index), and
    /// of `field` within it when the field is written on a line of its own.
    pub fn line(&self, section: &str, index: Option<usize>, field: Option<&str>) -> Option<usize> {
        let (_, section_line, items) = self.section(section)?;
        let (start, end) = match index {
            Some(i) => {
                let start = *items.get(i)?;
                let end = items.get(i + 1).copied().unwrap_or_else(|| {
                    self.sections
                        .iter()
                        .map(|(_, l, _)| *l)
                        .find(|l| *l > start)
                        .unwrap_or(self.lines.len() + 1)
                });
                (start, end)
            }
            None => {
                let end = self
                    .sections
                    .iter()
                    .map(|(_, l, _)| *l)
                    .find(|l| l > section_line)
                    .unwrap_or(self.lines.len() + 1);
                (*section_line, end)
            }
        };
        let Some(field) = field else {
            return Some(start);
        };
        let name = field
            .split(['.', '['])
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or(field);
        (start..end)
            .find(|l| {
                self.lines.get(l - 1).is_some_and(|text| {
                    let t = text.trim_start().trim_start_matches("- ");
                    t.strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with(':'))
                })
            })
            .or(Some(start))
    }

    /// A problem with `entry` (`recipients[3]`) and `field`, placed on its line.
    pub fn problem(
        &self,
        section: &str,
        index: Option<usize>,
        key: Option<String>,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            line: self.line(section, index, field.as_deref()),
            entry: match index {
                Some(i) => format!("{section}[{i}]"),
                None => section.to_owned(),
            },
            key,
            field,
            message: message.into(),
        }
    }
}

/// A manifest read from its text, with where its entries are.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub file: RegistryFile,
    pub locator: Locator,
}

/// The field a serde message names (``unknown field `x` ``, ``missing field `x` ``).
fn named_field(message: &str) -> Option<String> {
    let rest = message.split("field `").nth(1)?;
    Some(rest.split('`').next()?.to_owned())
}

/// Reads a manifest. A file that does not read is refused with every problem found: each
/// entry is read on its own, so one bad entry does not hide the next.
pub fn parse(text: &str) -> Result<Parsed, Vec<Problem>> {
    let locator = Locator::new(text);
    let whole = match serde_yaml_ng::from_str::<RegistryFile>(text) {
        Ok(file) => return Ok(Parsed { file, locator }),
        Err(err) => err,
    };
    let at = |err: &serde_yaml_ng::Error| err.location().map(|l| l.line());
    let value: Value = match serde_yaml_ng::from_str(text) {
        Ok(value) => value,
        Err(err) => {
            return Err(vec![Problem {
                line: at(&err),
                entry: String::new(),
                key: None,
                field: None,
                message: format!("not YAML: {err}"),
            }]);
        }
    };
    let mut problems = Vec::new();
    let Value::Mapping(map) = value else {
        return Err(vec![Problem {
            line: Some(1),
            entry: String::new(),
            key: None,
            field: None,
            message: "a registry file is a mapping of the sections organization, data_categories, data_subjects, products, recipients, processing_activities and data_flows".into(),
        }]);
    };
    for (name, _) in &map {
        let name = name.as_str().unwrap_or_default();
        if !SECTIONS.contains(&name) {
            problems.push(Problem {
                line: locator.line(name, None, None),
                entry: String::new(),
                key: None,
                field: Some(name.to_owned()),
                message: format!("unknown section; the sections are {}", SECTIONS.join(", ")),
            });
        }
    }
    let check_item =
        |problems: &mut Vec<Problem>,
         section: &str,
         index: Option<usize>,
         item: &Value,
         read: &dyn Fn(Value) -> Result<(), serde_yaml_ng::Error>| {
            if let Err(err) = read(item.clone()) {
                let message = err.to_string();
                let key = item.get("key").and_then(Value::as_str).map(str::to_owned);
                problems.push(locator.problem(section, index, key, named_field(&message), message));
            }
        };
    fn reader<T: DeserializeOwned>(value: Value) -> Result<(), serde_yaml_ng::Error> {
        serde_yaml_ng::from_value::<T>(value).map(drop)
    }
    for section in SECTIONS {
        let Some(value) = map.get(section) else {
            let message = format!("the section `{section}` is missing");
            problems.push(Problem {
                line: None,
                entry: String::new(),
                key: None,
                field: Some(section.to_owned()),
                message,
            });
            continue;
        };
        if section == "organization" {
            check_item(
                &mut problems,
                section,
                None,
                value,
                &reader::<OrganizationInput>,
            );
            continue;
        }
        let Value::Sequence(items) = value else {
            if !value.is_null() {
                problems.push(locator.problem(section, None, None, None, "a list of entries"));
            }
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let read: &dyn Fn(Value) -> Result<(), serde_yaml_ng::Error> = match section {
                "data_categories" => &reader::<DataCategoryInput>,
                "data_subjects" | "products" => &reader::<TermInput>,
                "recipients" => &reader::<RecipientInput>,
                "processing_activities" => &reader::<ActivityInput>,
                _ => &reader::<FlowInput<String>>,
            };
            check_item(&mut problems, section, Some(i), item, read);
        }
    }
    if problems.is_empty() {
        // Found only when read whole (an empty section written as `~`, say).
        problems.push(Problem {
            line: at(&whole),
            entry: String::new(),
            key: None,
            field: None,
            message: whole.to_string(),
        });
    }
    Err(problems)
}

/// The registry file's text: a header saying what it is, then the registry in the format of
/// `data/registry.yaml`. The same registry always gives the same bytes.
pub fn to_yaml(file: &RegistryFile, header: &[String]) -> Result<String, serde_yaml_ng::Error> {
    let mut out = String::new();
    for line in header {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    let body = serde_yaml_ng::to_string(file)?;
    // A blank line before each section, as in the example registry.
    for (i, line) in body.lines().enumerate() {
        if i > 0 && !line.starts_with(' ') && !line.starts_with('-') {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_fields_are_named_as_the_file_names_them() {
        assert_eq!(
            file_field("processingLocations[2]"),
            "processing_locations[2]"
        );
        assert_eq!(file_field("recipientId"), "recipient");
        assert_eq!(file_field("viaRecipientId"), "via");
        assert_eq!(
            file_field("transfers[0].sccModule"),
            "transfers[0].scc_module"
        );
    }

    #[test]
    fn every_bad_entry_is_listed_with_its_line_and_field() {
        let text = crate::seed::EXAMPLE_REGISTRY
            .replacen("    legal_name: \"Stripe", "    legal_nam: \"Stripe", 1)
            .replacen(
                "    default_role: PROCESSOR\n",
                "    default_role: BOSS\n",
                1,
            );
        let problems = parse(&text).expect_err("refused");
        assert_eq!(problems.len(), 2, "{problems:#?}");
        let unknown = problems
            .iter()
            .find(|p| p.field.as_deref() == Some("legal_nam"))
            .expect("the misspelt field");
        let line = unknown.line.expect("a line");
        assert!(
            text.lines().nth(line - 1).unwrap().contains("legal_nam"),
            "line {line} is {:?}",
            text.lines().nth(line - 1)
        );
        assert!(
            problems.iter().any(|p| p.message.contains("BOSS")),
            "{problems:#?}"
        );
    }

    #[test]
    fn the_example_registry_reads_and_writes_the_same_registry() {
        let parsed = parse(crate::seed::EXAMPLE_REGISTRY).expect("reads");
        let text = to_yaml(&parsed.file, &["header".into()]).expect("writes");
        let again = parse(&text).expect("reads back");
        assert_eq!(again.file, parsed.file);
    }
}

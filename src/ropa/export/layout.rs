//! The column layouts (Art. 30, UK ICO template, CNIL template), the fixed labels around them,
//! and the terminology that rewrites both.

use crate::ropa::model::{Layout, Perspective, Terminology};

/// The language of headings and labels: the CNIL template is French, the others English.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Language {
    English,
    French,
}

impl Language {
    pub(super) fn of(layout: Layout) -> Self {
        match layout {
            Layout::Article30 | Layout::Ico => Language::English,
            Layout::Cnil => Language::French,
        }
    }
}

/// Singapore PDPA 2012 terms for GDPR ones, as the 2022 privacy statement's PDPA clause reads
/// them. Patterns are tried in order at each position, so longer phrases come first.
const PDPA_TERMS: &[(&str, &str)] = &[
    // English.
    ("data subject's", "individual's"),
    ("Data subjects", "Individuals"),
    ("data subjects", "individuals"),
    ("Data subject", "Individual"),
    ("data subject", "individual"),
    ("Sub-processors", "Sub-intermediaries"),
    ("sub-processors", "sub-intermediaries"),
    ("Sub-processor", "Sub-intermediary"),
    ("sub-processor", "sub-intermediary"),
    ("Controllers", "Organisations"),
    ("controllers", "organisations"),
    ("Controller", "Organisation"),
    ("controller", "organisation"),
    ("Processors", "Data intermediaries"),
    ("processors", "data intermediaries"),
    ("Processor", "Data intermediary"),
    ("processor", "data intermediary"),
    // French (CNIL layout), articles included where the noun's gender or elision changes.
    ("du responsable du traitement", "de l'organisation"),
    ("du responsable", "de l'organisation"),
    ("Responsables du traitement", "Organisations"),
    ("responsables du traitement", "organisations"),
    ("Responsable du traitement", "Organisation"),
    ("responsable du traitement", "organisation"),
    ("Responsable(s) conjoint(s)", "Organisation(s) conjointe(s)"),
    ("du sous-traitant", "de l'intermédiaire de données"),
    ("le sous-traitant", "l'intermédiaire de données"),
    (
        "Sous-traitants ultérieurs",
        "Intermédiaires de données ultérieurs",
    ),
    ("Sous-traitants", "Intermédiaires de données"),
    ("sous-traitants", "intermédiaires de données"),
    ("Sous-traitant", "Intermédiaire de données"),
    ("sous-traitant", "intermédiaire de données"),
    ("personnes concernées", "particuliers"),
];

/// Applies the terminology to text the exporter writes (headings, labels, enum renderings).
/// Free text from the registry (names, purposes) is shown as it was entered.
#[derive(Clone, Copy, Debug)]
pub(super) struct Terms(pub(super) Terminology, pub(super) Language);

impl Terms {
    /// The text in the export's terminology.
    pub(super) fn apply(self, text: String) -> String {
        match self.0 {
            Terminology::Gdpr => text,
            Terminology::SingaporePdpa => replace_terms(&text),
        }
    }

    /// Like [`Terms::apply`], for static text.
    pub(super) fn str(self, text: &str) -> String {
        self.apply(text.to_owned())
    }
}

fn replace_terms(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    'scan: while let Some(c) = rest.chars().next() {
        for (from, to) in PDPA_TERMS {
            if let Some(after) = rest.strip_prefix(from) {
                out.push_str(to);
                rest = after;
                continue 'scan;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// What a column shows for an activity (or, for the organisation fields, for the record).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Field {
    /// The activity's key.
    Reference,
    Name,
    Description,
    /// When the activity was first recorded (CNIL "Date de création du traitement").
    CreatedOn,
    /// When it last changed (CNIL "Mise à jour du traitement").
    UpdatedOn,
    /// Art. 30(1)(a)/(2)(a): the organisation keeping the record.
    Organization,
    /// Art. 30(1)(a)/(2)(a): the data protection officer.
    Dpo,
    /// Art. 27 representative.
    Representative,
    /// Art. 30(2)(a): the (categories of) controllers the processor acts for.
    Controllers,
    /// Recipients acting as joint controllers.
    JointControllers,
    Purposes,
    /// The activity's name followed by its purposes (ICO "Categories of processing").
    ProcessingCategories,
    LegalBasis,
    DataSubjects,
    DataCategories,
    /// The special categories processed and their Art. 9(2) condition (CNIL "Données sensibles").
    SpecialCategories,
    /// The Art. 9(2) condition alone.
    SpecialCondition,
    RecipientCategories,
    /// Recipients grouped under their category (ICO "Categories of recipients").
    RecipientsByCategory,
    Recipients,
    /// The recipients' types in the words of the CNIL template's list ("Sous-traitants",
    /// "Partenaires institutionnels ou commerciaux", ...).
    RecipientTypes,
    /// Processors the controller uses, or the processor's sub-processors.
    Processors,
    TransferCountries,
    Transfers,
    /// One line per transfer: the importer (CNIL "Transferts hors UE" / "Destinataire").
    TransferRecipients,
    /// One line per transfer: the destination (CNIL "Pays").
    TransferDestinations,
    /// One line per transfer: the safeguard in the words of the CNIL template's list, with its
    /// details (CNIL "Type de Garanties").
    TransferGuarantees,
    Retention,
    SecurityMeasures,
    Products,
    /// A template column the registry holds nothing for: left empty.
    NotRecorded,
}

impl Field {
    /// A readable column width in Excel character units.
    pub(super) fn width(self) -> f64 {
        match self {
            Field::Reference | Field::CreatedOn | Field::UpdatedOn => 22.0,
            Field::Name => 32.0,
            Field::LegalBasis | Field::Products | Field::NotRecorded => 26.0,
            Field::DataSubjects
            | Field::RecipientCategories
            | Field::TransferCountries
            | Field::TransferDestinations
            | Field::RecipientTypes => 30.0,
            Field::JointControllers | Field::Controllers | Field::SpecialCondition => 34.0,
            Field::DataCategories | Field::SpecialCategories | Field::Retention => 38.0,
            Field::Organization | Field::Dpo | Field::Representative => 40.0,
            Field::Description
            | Field::Purposes
            | Field::ProcessingCategories
            | Field::Recipients
            | Field::Processors
            | Field::TransferRecipients
            | Field::SecurityMeasures => 48.0,
            Field::RecipientsByCategory => 56.0,
            Field::Transfers | Field::TransferGuarantees => 70.0,
        }
    }
}

/// A column: what it shows and its heading (already in the export's terminology).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Column {
    pub(super) field: Field,
    pub(super) heading: String,
}

fn columns(spec: &[(Field, &str)], terms: Terms) -> Vec<Column> {
    spec.iter()
        .map(|(field, heading)| Column {
            field: *field,
            heading: terms.str(heading),
        })
        .collect()
}

/// The table columns of a layout, for one perspective, in the layout's order.
///
/// - **ICO, controller**: the first thirteen columns of the ICO's "Documentation template for
///   controllers" (sheet `Template`), verbatim and in order: the Art. 30(1) points, the Article 6
///   lawful basis and the Article 9 condition. The template's later columns (legitimate
///   interests, consent, DPIAs, breaches, the Data Protection Act 2018 Schedule 1 condition) are
///   optional there and the registry holds nothing for them; "Link to contract with processor"
///   is kept, empty, because it sits among the Art. 30 columns. Matched against a transcription
///   of the template's column headings: the ICO's file could not be read here, so no copy is
///   kept (see `data/templates/README.md`).
/// - **ICO, processor**: the Art. 30(2) points in the wording of the controller template; the
///   ICO's processor template is not verified (see `data/templates/README.md`), nor the header
///   block of either.
/// - **CNIL, controller**: the CNIL's simplified record model (`registre-traitement-simplifie.ods`,
///   sheet "3 - Modèle de fiche de registre", a copy of which is kept in
///   `docs/templates/cnil/`), one column per rubric in the sheet's order, its words verbatim; a
///   rubric the sheet splits into sub-columns is written "Rubrique — Sous-rubrique". The
///   actors' block ("Responsable du traitement", "Délégué à la protection des données",
///   "Société du DPO (si celui-ci est externe)", "Représentant") is the header
///   ([`organization_columns`]). Left out, because the registry holds nothing for them: the
///   sheet's five "Sous-finalité" rows (the purposes are one list), "Catégories de personnes
///   concernées — Précisions", the "Type de mesure de sécurité" list (the measures are free text,
///   under "Précisions") and the actors' address sub-columns (the organisation's address is one
///   text). The sheet has no legal-basis, recipient-category or processor rubric, so neither has
///   the layout.
/// - **CNIL, processor**: the CNIL publishes no template for processors. The layout follows the
///   French text of GDPR Art. 30(2), after the identification rubrics of the controller sheet
///   (N° / RÉF, name, description, dates) and with the categories of data subjects and data,
///   which the registry holds, in the sheet's words.
pub(super) fn table_columns(layout: Layout, perspective: Perspective, terms: Terms) -> Vec<Column> {
    use Field as F;
    let spec: &[(Field, &str)] = match (layout, perspective) {
        (Layout::Article30, Perspective::Controller) => &[
            (F::Reference, "Reference"),
            (F::Name, "Processing activity"),
            (F::Description, "Description"),
            (F::JointControllers, "Joint controllers (Art. 30(1)(a))"),
            (F::Purposes, "Purposes of the processing (Art. 30(1)(b))"),
            (F::LegalBasis, "Lawful basis (Art. 6(1))"),
            (
                F::DataSubjects,
                "Categories of data subjects (Art. 30(1)(c))",
            ),
            (
                F::DataCategories,
                "Categories of personal data (Art. 30(1)(c))",
            ),
            (
                F::SpecialCondition,
                "Condition for special categories of personal data (Art. 9(2))",
            ),
            (
                F::RecipientCategories,
                "Categories of recipients (Art. 30(1)(d))",
            ),
            (
                F::Recipients,
                "Recipients, including in third countries (Art. 30(1)(d))",
            ),
            (
                F::Transfers,
                "Transfers to third countries or international organisations, with safeguards (Art. 30(1)(e))",
            ),
            (F::Retention, "Time limits for erasure (Art. 30(1)(f))"),
            (
                F::SecurityMeasures,
                "Technical and organisational security measures (Art. 30(1)(g))",
            ),
            (F::Products, "Products"),
        ],
        (Layout::Article30, Perspective::Processor) => &[
            (F::Reference, "Reference"),
            (F::Name, "Processing activity"),
            (F::Description, "Description"),
            (
                F::Processors,
                "Other processors engaged (sub-processors) (Art. 30(2)(a))",
            ),
            (
                F::Purposes,
                "Categories of processing carried out on behalf of each controller (Art. 30(2)(b))",
            ),
            (F::DataSubjects, "Categories of data subjects"),
            (F::DataCategories, "Categories of personal data"),
            (
                F::SpecialCondition,
                "Condition for special categories of personal data (Art. 9(2))",
            ),
            (F::Recipients, "Recipients"),
            (
                F::Transfers,
                "Transfers to third countries or international organisations, with safeguards (Art. 30(2)(c))",
            ),
            (F::Retention, "Retention period"),
            (
                F::SecurityMeasures,
                "Technical and organisational security measures (Art. 30(2)(d))",
            ),
            (F::Products, "Products"),
        ],
        (Layout::Ico, Perspective::Controller) => &[
            (F::Name, "Business function"),
            (F::Purposes, "Purpose of processing"),
            (
                F::JointControllers,
                "Name and contact details of joint controller (if applicable)",
            ),
            (F::DataSubjects, "Categories of individuals"),
            (F::DataCategories, "Categories of personal data"),
            (F::RecipientsByCategory, "Categories of recipients"),
            (F::NotRecorded, "Link to contract with processor"),
            (
                F::TransferCountries,
                "Names of third countries or international organisations that personal data are transferred to (if applicable)",
            ),
            (
                F::Transfers,
                "Safeguards for exceptional transfers of personal data to third countries or international organisations (if applicable)",
            ),
            (F::Retention, "Retention schedule (if possible)"),
            (
                F::SecurityMeasures,
                "General description of technical and organisational security measures (if possible)",
            ),
            (
                F::LegalBasis,
                "Article 6 lawful basis for processing personal data",
            ),
            (
                F::SpecialCondition,
                "Article 9 condition for processing special category data",
            ),
        ],
        (Layout::Ico, Perspective::Processor) => &[
            (F::Controllers, "Name and contact details of controller"),
            (F::ProcessingCategories, "Categories of processing"),
            (F::Processors, "Name of sub-processors (if applicable)"),
            (
                F::TransferCountries,
                "Names of third countries or international organisations that personal data are transferred to (if applicable)",
            ),
            (
                F::Transfers,
                "Safeguards for exceptional transfers of personal data to third countries or international organisations (if applicable)",
            ),
            (
                F::SecurityMeasures,
                "General description of technical and organisational security measures (if possible)",
            ),
        ],
        (Layout::Cnil, Perspective::Controller) => &[
            (F::Description, "Description du traitement"),
            (F::Name, "Nom du traitement"),
            (F::Reference, "N° / RÉF"),
            (F::CreatedOn, "Date de création du traitement"),
            (F::UpdatedOn, "Mise à jour du traitement"),
            (F::JointControllers, "Responsable(s) conjoint(s)"),
            (F::Purposes, "Finalité(s) du traitement effectué"),
            (
                F::DataCategories,
                "Catégories de données personnelles concernées — Description",
            ),
            (
                F::Retention,
                "Catégories de données personnelles concernées — Durée de conservation",
            ),
            (F::SpecialCategories, "Données sensibles — Description"),
            (
                F::DataSubjects,
                "Catégories de personnes concernées — Description",
            ),
            (F::RecipientTypes, "Destinataires — Type de destinataire"),
            (F::Recipients, "Destinataires — Précisions"),
            (F::SecurityMeasures, "Mesures de sécurité — Précisions"),
            (F::TransferRecipients, "Transferts hors UE — Destinataire"),
            (F::TransferDestinations, "Transferts hors UE — Pays"),
            (
                F::TransferGuarantees,
                "Transferts hors UE — Type de Garanties",
            ),
            (
                F::NotRecorded,
                "Transferts hors UE — Liens vers la documentation",
            ),
        ],
        (Layout::Cnil, Perspective::Processor) => &[
            (F::Description, "Description du traitement"),
            (F::Name, "Nom du traitement"),
            (F::Reference, "N° / RÉF"),
            (F::CreatedOn, "Date de création du traitement"),
            (F::UpdatedOn, "Mise à jour du traitement"),
            (
                F::Purposes,
                "Catégories de traitements effectués pour le compte de chaque responsable du traitement (art. 30.2.b)",
            ),
            (
                F::Processors,
                "Nom et coordonnées du ou des sous-traitants (art. 30.2.a)",
            ),
            (
                F::DataCategories,
                "Catégories de données personnelles concernées — Description",
            ),
            (F::SpecialCategories, "Données sensibles — Description"),
            (
                F::DataSubjects,
                "Catégories de personnes concernées — Description",
            ),
            (
                F::Transfers,
                "Transferts vers un pays tiers ou à une organisation internationale, y compris l'identification de ce pays tiers ou de cette organisation internationale (art. 30.2.c)",
            ),
            (
                F::SecurityMeasures,
                "Description générale des mesures de sécurité techniques et organisationnelles (art. 30.2.d)",
            ),
        ],
    };
    columns(spec, terms)
}

/// The organisation fields (Art. 30(1)(a) / 30(2)(a)): the header block of XLSX and Markdown,
/// and the leading columns of the CSV, which has no header block.
pub(super) fn organization_columns(
    layout: Layout,
    perspective: Perspective,
    terms: Terms,
) -> Vec<Column> {
    use Field as F;
    let spec: &[(Field, &str)] = match (layout, perspective) {
        (Layout::Article30, Perspective::Controller) => &[
            (
                F::Organization,
                "Name and contact details of the controller (Art. 30(1)(a))",
            ),
            (F::Dpo, "Data protection officer (Art. 30(1)(a))"),
            (F::Representative, "Representative (Art. 30(1)(a))"),
        ],
        (Layout::Article30, Perspective::Processor) => &[
            (
                F::Organization,
                "Name and contact details of the processor (Art. 30(2)(a))",
            ),
            (
                F::Controllers,
                "Controllers on whose behalf the processor acts (Art. 30(2)(a))",
            ),
            (F::Dpo, "Data protection officer (Art. 30(2)(a))"),
            (F::Representative, "Representative (Art. 30(2)(a))"),
        ],
        (Layout::Ico, Perspective::Controller) => &[
            (
                F::Organization,
                "Name and contact details of our organisation",
            ),
            (
                F::Dpo,
                "Name and contact details of our data protection officer (if applicable)",
            ),
            (
                F::Representative,
                "Name and contact details of our representative (if applicable)",
            ),
        ],
        (Layout::Ico, Perspective::Processor) => &[
            (
                F::Organization,
                "Name and contact details of our organisation",
            ),
            (F::Controllers, "Name and contact details of controller"),
            (
                F::Dpo,
                "Name and contact details of our data protection officer (if applicable)",
            ),
            (
                F::Representative,
                "Name and contact details of our representative (if applicable)",
            ),
        ],
        (Layout::Cnil, Perspective::Controller) => &[
            (F::Organization, "Responsable du traitement"),
            (F::Dpo, "Délégué à la protection des données"),
            (F::NotRecorded, "Société du DPO (si celui-ci est externe)"),
            (F::Representative, "Représentant"),
        ],
        (Layout::Cnil, Perspective::Processor) => &[
            (
                F::Organization,
                "Nom et coordonnées du sous-traitant (art. 30.2.a)",
            ),
            (
                F::Controllers,
                "Responsables du traitement pour le compte desquels le sous-traitant agit (art. 30.2.a)",
            ),
            (F::Dpo, "Délégué à la protection des données"),
            (F::Representative, "Représentant"),
        ],
    };
    columns(spec, terms)
}

/// The fixed labels around the tables, in the layout's language and the export's terminology.
#[derive(Clone, Debug)]
pub(super) struct Labels {
    pub(super) language: Language,
    /// The CSV's first column when it holds more than one record.
    pub(super) perspective_column: String,
    /// The CSV's trailing column.
    pub(super) findings_column: String,
    pub(super) as_of: String,
    pub(super) generated_at: String,
    pub(super) activities_section: String,
    pub(super) findings_section: String,
    pub(super) no_findings: String,
    pub(super) no_activities: String,
    pub(super) field: String,
    pub(super) value: String,
    pub(super) findings_sheet: String,
    pub(super) transfers_sheet: String,
    /// Severity, code, entity type, entity, provision, message.
    pub(super) finding_headings: [String; 6],
    /// Reference, activity, exporter, recipient, country, mechanism, safeguards, TIA date.
    pub(super) transfer_headings: [String; 8],
    terms: Terms,
}

impl Labels {
    pub(super) fn new(layout: Layout, terms: Terms) -> Self {
        let language = Language::of(layout);
        let t = |s: &str| terms.str(s);
        match language {
            Language::English => Labels {
                language,
                perspective_column: t("Perspective"),
                findings_column: t("Findings"),
                as_of: t("As of (UTC)"),
                generated_at: t("Generated (UTC)"),
                activities_section: t("Processing activities"),
                findings_section: t("Findings"),
                no_findings: t("No findings."),
                no_activities: t("No processing activities."),
                field: t("Field"),
                value: t("Value"),
                findings_sheet: t("Findings"),
                transfers_sheet: t("Transfers"),
                finding_headings: [
                    t("Severity"),
                    t("Code"),
                    t("Entity type"),
                    t("Entity"),
                    t("Provision"),
                    t("Message"),
                ],
                transfer_headings: [
                    t("Reference"),
                    t("Processing activity"),
                    t("Exporter (regime)"),
                    t("Recipient"),
                    t("Country"),
                    t("Transfer mechanism (Chapter V)"),
                    t("Documented safeguards"),
                    t("Transfer impact assessment date"),
                ],
                terms,
            },
            Language::French => Labels {
                language,
                perspective_column: t("Registre"),
                findings_column: t("Constats"),
                as_of: t("Date de référence (UTC)"),
                generated_at: t("Généré le (UTC)"),
                activities_section: t("Activités de traitement"),
                findings_section: t("Constats"),
                no_findings: t("Aucun constat."),
                no_activities: t("Aucune activité de traitement."),
                field: t("Rubrique"),
                value: t("Valeur"),
                findings_sheet: t("Constats"),
                transfers_sheet: t("Transferts"),
                finding_headings: [
                    t("Gravité"),
                    t("Code"),
                    t("Type d'entité"),
                    t("Entité"),
                    t("Fondement"),
                    t("Constat"),
                ],
                transfer_headings: [
                    t("N° / RÉF"),
                    t("Activité de traitement"),
                    t("Exportateur (régime)"),
                    t("Destinataire"),
                    t("Pays"),
                    t("Type de garanties"),
                    t("Garanties documentées"),
                    t("Date de l'analyse d'impact des transferts"),
                ],
                terms,
            },
        }
    }

    /// The record's title, e.g. "Controller record (Art. 30(1))".
    pub(super) fn title(&self, perspective: Perspective) -> String {
        let text = match (self.language, perspective) {
            (Language::English, Perspective::Controller) => "Controller record (Art. 30(1))",
            (Language::English, Perspective::Processor) => "Processor record (Art. 30(2))",
            (Language::French, Perspective::Controller) => {
                "Registre du responsable du traitement (art. 30.1 RGPD)"
            }
            (Language::French, Perspective::Processor) => {
                "Registre du sous-traitant (art. 30.2 RGPD)"
            }
        };
        self.terms.str(text)
    }

    /// The perspective in a word or two, for the CSV's perspective column and short sheet names.
    pub(super) fn perspective(&self, perspective: Perspective) -> String {
        let text = match (self.language, perspective) {
            (Language::English, Perspective::Controller) => "Controller",
            (Language::English, Perspective::Processor) => "Processor",
            (Language::French, Perspective::Controller) => "Responsable du traitement",
            (Language::French, Perspective::Processor) => "Sous-traitant",
        };
        self.terms.str(text)
    }

    /// Sheet names to try, best first (Excel allows 31 characters).
    pub(super) fn sheet_names(&self, perspective: Perspective) -> Vec<String> {
        let short = match (self.language, perspective) {
            (Language::English, Perspective::Controller) => "Controller record",
            (Language::English, Perspective::Processor) => "Processor record",
            (Language::French, Perspective::Controller) => "Registre du responsable",
            (Language::French, Perspective::Processor) => "Registre du sous-traitant",
        };
        vec![
            self.title(perspective),
            self.terms.str(short),
            self.perspective(perspective),
        ]
    }

    /// The line under the title naming the organisation.
    pub(super) fn subtitle(&self, organization: &str) -> String {
        match self.language {
            Language::English => format!("Record of processing activities of {organization}"),
            Language::French => format!("Registre des activités de traitement de {organization}"),
        }
    }
}

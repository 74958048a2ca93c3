//! Countries and the adequacy decisions of the three regimes.

use crate::graphql::enums::{AdequacyScope, Regime};
use crate::reference;
use crate::registry::Registry;
use async_graphql::{Context, Object};
use chrono::NaiveDate;

pub struct Country(pub reference::Country);

impl Country {
    pub fn from_code(code: &str) -> Option<Self> {
        reference::country(code).map(Self)
    }

    pub fn list(codes: &[String]) -> Vec<Self> {
        codes.iter().filter_map(|c| Self::from_code(c)).collect()
    }
}

/// A country, by its ISO 3166-1 alpha-2 code.
#[Object]
impl Country {
    /// ISO 3166-1 alpha-2 code.
    async fn code(&self) -> &str {
        self.0.alpha2
    }

    /// English short name.
    async fn name(&self) -> &str {
        self.0.name
    }

    /// Whether the country is in the European Economic Area (EU-27, Iceland, Liechtenstein,
    /// Norway), where data moves freely.
    async fn in_eea(&self) -> bool {
        reference::is_eea(self.0.alpha2)
    }

    /// The adequacy decision in force for the country today under `regime` (the EU GDPR when
    /// absent), if any. Whether it covers a given importer depends on its scope.
    async fn adequacy_decision(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The exporter's regime whose list to read; EU_GDPR when absent.")]
        regime: Option<Regime>,
    ) -> async_graphql::Result<Option<AdequacyDecision>> {
        let registry = ctx.data::<Registry>()?;
        let today = registry.now().date_naive();
        let regime = regime.map_or(reference::Regime::EuGdpr, Into::into);
        Ok(registry
            .adequacy()
            .decision(regime, self.0.alpha2, today)
            .cloned()
            .map(AdequacyDecision))
    }
}

pub struct AdequacyDecision(pub reference::AdequacyDecision);

/// An adequacy finding of one of the three regimes: a European Commission decision (GDPR
/// Art. 45), UK adequacy regulations (Data Protection Act 2018 s. 17A), or the Swiss Federal
/// Council's list (Annex 1 DPO). One entry per country; a decision for several countries
/// appears once for each.
#[Object]
impl AdequacyDecision {
    /// The table's key of the decision (shared by the entries of one decision).
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The regime whose exporters may rely on it.
    async fn regime(&self) -> Regime {
        self.0.regime.into()
    }

    /// The country the decision covers; null for an international organisation.
    async fn country(&self) -> Option<Country> {
        self.0.country.as_deref().and_then(Country::from_code)
    }

    /// The international organisation the decision covers, if it covers one.
    async fn international_organisation(&self) -> Option<&str> {
        self.0.international_organisation.as_deref()
    }

    /// The decision's official reference, e.g. "Commission Implementing Decision (EU) 2023/1795".
    async fn reference(&self) -> &str {
        &self.0.reference
    }

    /// Its common name, e.g. "EU-US Data Privacy Framework".
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Its Official Journal reference, where verified (null otherwise: see `url`).
    async fn official_journal(&self) -> Option<&str> {
        self.0.official_journal.as_deref()
    }

    /// Where its text is published (EUR-Lex, legislation.gov.uk, the Federal Office of Justice).
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// The date it was adopted (the date in its title).
    async fn adopted(&self) -> NaiveDate {
        self.0.adopted
    }

    /// The first day it could be relied on.
    async fn in_force_from(&self) -> NaiveDate {
        self.0.starts()
    }

    /// The first day it can no longer be relied on (expired, replaced or invalidated), if it
    /// has one.
    async fn in_force_until(&self) -> Option<NaiveDate> {
        self.0.in_force_until
    }

    /// The acts that amended it (extensions, renewals), oldest first.
    async fn amended_by(&self) -> Vec<AdequacyAmendment<'_>> {
        self.0.amended_by.iter().map(AdequacyAmendment).collect()
    }

    /// The decision that replaced it, if one did.
    async fn replaced_by(&self) -> Option<&str> {
        self.0.replaced_by.as_deref()
    }

    /// Which importers in the country it covers.
    async fn scope(&self) -> AdequacyScope {
        self.0.scope.into()
    }

    /// For a certified scope, the framework an importer must be certified under.
    async fn certification(&self) -> Option<&str> {
        self.0.certification.as_deref()
    }

    /// What the scope covers and leaves out, in a sentence.
    async fn scope_note(&self) -> Option<&str> {
        self.0.scope_note.as_deref()
    }
}

pub struct AdequacyAmendment<'a>(&'a reference::Amendment);

/// An act that amended an adequacy decision.
#[Object]
impl AdequacyAmendment<'_> {
    /// Its official reference.
    async fn reference(&self) -> &str {
        &self.0.reference
    }

    /// The date it was adopted.
    async fn adopted(&self) -> NaiveDate {
        self.0.adopted
    }

    /// Its Official Journal reference, where verified.
    async fn official_journal(&self) -> Option<&str> {
        self.0.official_journal.as_deref()
    }

    /// What it changed.
    async fn effect(&self) -> &str {
        &self.0.effect
    }
}

//! Transfers under GDPR Chapter V: a flow's transfers, their safeguards and exporters.

use super::{AdequacyDecision, Country, loader};
use crate::graphql::auth::VIEWER;
use crate::graphql::enums::{Derogation, ExporterParty, ExporterRole, Regime, TransferMechanism};
use crate::graphql::error::ApiResult;
use crate::graphql::loaders::FlowExporter;
use crate::registry::Registry;
use async_graphql::{Context, Object};
use chrono::NaiveDate;
use entity::transfer;

pub struct TransferSafeguard {
    pub(super) mechanism: entity::TransferMechanism,
    pub(super) scc_module: Option<i16>,
    pub(super) derogation: Option<entity::Derogation>,
    pub(super) safeguards: Option<String>,
    pub(super) tia_date: Option<NaiveDate>,
}

/// A transfer safeguard under GDPR Chapter V.
#[Object]
impl TransferSafeguard {
    /// The instrument the transfer relies on.
    async fn mechanism(&self) -> TransferMechanism {
        self.mechanism.into()
    }

    /// For standard contractual clauses, the module of Decision 2021/914: 1 controller to
    /// controller, 2 controller to processor, 3 processor to processor, 4 processor to controller.
    async fn scc_module(&self) -> Option<i16> {
        self.scc_module
    }

    /// For an Art. 49 transfer, the derogation relied on.
    async fn derogation(&self) -> Option<Derogation> {
        self.derogation.map(Into::into)
    }

    /// The documented safeguards (required for compelling legitimate interests).
    #[graphql(guard = "VIEWER")]
    async fn safeguards(&self) -> Option<&str> {
        self.safeguards.as_deref()
    }

    /// When the transfer impact assessment was made (EDPB Recommendations 01/2020).
    #[graphql(guard = "VIEWER")]
    async fn tia_date(&self) -> Option<NaiveDate> {
        self.tia_date
    }
}

pub struct Transfer(pub transfer::Model);

/// A transfer of one data flow to one destination country outside the EEA.
#[Object(guard = "VIEWER")]
impl Transfer {
    /// The destination country.
    async fn country(&self) -> Option<Country> {
        Country::from_code(&self.0.country)
    }

    /// The instrument the transfer relies on.
    async fn mechanism(&self) -> TransferMechanism {
        self.0.mechanism.into()
    }

    /// For standard contractual clauses (or the UK Addendum), the module of Decision 2021/914
    /// (1-4), which follows from the exporter's and the importer's roles.
    async fn scc_module(&self) -> Option<i16> {
        self.0.scc_module
    }

    /// For an Art. 49 transfer, the derogation relied on.
    async fn derogation(&self) -> Option<Derogation> {
        self.0.derogation.map(Into::into)
    }

    /// What Art. 49(6) asks the record to document: for a derogation, why it applies; for
    /// compelling legitimate interests, the suitable safeguards; for SCCs where no module fits
    /// the roles, the position taken.
    async fn safeguards(&self) -> Option<&str> {
        self.0.safeguards.as_deref()
    }

    /// When the transfer impact assessment was made.
    async fn tia_date(&self) -> Option<NaiveDate> {
        self.0.tia_date
    }

    /// Who sends the data across the border, and under which regime.
    async fn exporter(&self, ctx: &Context<'_>) -> async_graphql::Result<TransferExporter> {
        loader(ctx)?
            .load_one(FlowExporter(self.0.flow_id))
            .await
            .api()?
            .map(TransferExporter)
            .ok_or_else(|| "the transfer's flow is missing".into())
    }

    /// For an adequacy transfer, the decision of the exporter's regime in force for the
    /// country today.
    async fn adequacy_decision(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<AdequacyDecision>> {
        if self.0.mechanism != entity::TransferMechanism::AdequacyDecision {
            return Ok(None);
        }
        let registry = ctx.data::<Registry>()?;
        let Some(exporter) = loader(ctx)?
            .load_one(FlowExporter(self.0.flow_id))
            .await
            .api()?
        else {
            return Ok(None);
        };
        Ok(registry
            .adequacy()
            .decision(
                exporter.regime,
                &self.0.country,
                registry.now().date_naive(),
            )
            .cloned()
            .map(AdequacyDecision))
    }
}

pub struct TransferExporter(pub std::sync::Arc<crate::registry::transfers::Exporter>);

/// The exporter of a flow's transfers: the organization or one of its establishments for a
/// direct flow, the forwarding recipient for an onward one. Its country sets the regime.
#[Object(guard = "VIEWER")]
impl TransferExporter {
    /// Which party it is.
    async fn party(&self) -> ExporterParty {
        self.0.party.into()
    }

    /// Its legal name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Its country of establishment.
    async fn country(&self) -> Option<Country> {
        Country::from_code(&self.0.country)
    }

    /// Its role for the data, which gives the SCC module on its side.
    async fn role(&self) -> ExporterRole {
        self.0.role.into()
    }

    /// The law the transfer is made under: EU GDPR, UK GDPR or Swiss FADP.
    async fn regime(&self) -> Regime {
        self.0.regime.into()
    }
}

//! The organization and the taxonomies: data categories, data subject categories and products.

use super::{Country, loader};
use crate::graphql::auth::VIEWER;
use crate::graphql::error::ApiResult;
use crate::graphql::loaders::DataCategoryId;
use crate::graphql::relay::global_id;
use async_graphql::{Context, ID, Object};
use entity::{data_category, data_subject_category, organization, product};

pub struct Organization(pub organization::Model);

/// The organization that keeps the registry.
#[Object]
impl Organization {
    /// Legal name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Postal address of the establishment.
    async fn address(&self) -> &str {
        &self.0.address
    }

    /// Country of establishment.
    async fn country(&self) -> Option<Country> {
        Country::from_code(&self.0.country)
    }

    /// Name or function of the data protection officer (Art. 37).
    async fn dpo_name(&self) -> &str {
        &self.0.dpo_name
    }

    /// How to reach the data protection officer.
    async fn dpo_email(&self) -> &str {
        &self.0.dpo_email
    }

    /// The data protection officer's postal address.
    async fn dpo_address(&self) -> Option<&str> {
        self.0.dpo_address.as_deref()
    }

    /// The representative in the Union (Art. 27), where one is designated.
    async fn representative(&self) -> Option<&str> {
        self.0.representative.as_deref()
    }

    /// Art. 30(2)(a): where the name and contact details of each controller the organization
    /// processes for are kept, as the processor's record names them by category (internal).
    #[graphql(guard = "VIEWER")]
    async fn controllers_register(&self) -> Option<&str> {
        self.0.controllers_register.as_deref()
    }

    /// Where the organization's details come from.
    async fn sources(&self) -> &[String] {
        &self.0.sources.0
    }
}

shared_row!(DataCategory, data_category::Model);

/// A category of personal data, in a hierarchy: a filter on a category matches its
/// descendants.
#[Object(guard = "VIEWER")]
impl DataCategory {
    /// Global ID.
    pub(super) async fn id(&self) -> ID {
        global_id("DataCategory", self.0.id)
    }

    /// Dotted key; its prefix is the parent's key (`contact.phone_number`).
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The category's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the category covers.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// A special category of personal data (Art. 9(1)).
    async fn special_category(&self) -> bool {
        self.0.special_category
    }

    /// The matching key of the fideslang data category taxonomy, where one exists.
    async fn fides_key(&self) -> Option<&str> {
        self.0.fides_key.as_deref()
    }

    /// The parent category.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DataCategory>> {
        let Some(parent) = self.0.parent_id else {
            return Ok(None);
        };
        Ok(loader(ctx)?
            .load_one(DataCategoryId(parent))
            .await
            .api()?
            .map(DataCategory))
    }
}

shared_row!(DataSubjectCategory, data_subject_category::Model);

/// A category of data subjects: customer contacts, end users, website visitors...
#[Object(guard = "VIEWER")]
impl DataSubjectCategory {
    /// Global ID.
    pub(super) async fn id(&self) -> ID {
        global_id("DataSubjectCategory", self.0.id)
    }

    /// Stable identifier, e.g. `end_users`.
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The category's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Who belongs to the category.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
}

pub struct Product(pub product::Model);

/// A product or service personal data flows through.
#[Object]
impl Product {
    /// Global ID.
    pub(super) async fn id(&self) -> ID {
        global_id("Product", self.0.id)
    }

    /// Stable identifier, e.g. `sms`.
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The product's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the product does.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
}

//! The organization and the taxonomies: data categories, data subject categories and products.

use super::error::{RegistryError, Result};
use super::inputs::{DataCategoryInput, OrganizationInput, TermInput};
use super::rules::category_covers;
use super::{Registry, validate};
use entity::{
    TextList, activity_data_category, activity_data_subject, activity_product, data_category,
    data_subject_category, flow_data_category, flow_data_subject, organization, product,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use std::collections::HashMap;

/// Resolves taxonomy keys to row ids, in input order, naming the first unknown key.
async fn resolve<E, C>(
    conn: &C,
    field: &str,
    keys: &[String],
    key_column: E::Column,
    id_of: impl Fn(&E::Model) -> i32,
    key_of: impl Fn(&E::Model) -> &str,
    what: &str,
) -> Result<Vec<i32>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let rows = E::find()
        .filter(key_column.is_in(keys.iter().map(String::as_str)))
        .all(conn)
        .await?;
    let by_key: HashMap<&str, i32> = rows.iter().map(|r| (key_of(r), id_of(r))).collect();
    resolve_in(field, keys, &by_key, what)
}

/// [`resolve`] against terms already read, `by_key`: row ids in input order (each once),
/// naming the first unknown key.
pub(crate) fn resolve_in(
    field: &str,
    keys: &[String],
    by_key: &HashMap<&str, i32>,
    what: &str,
) -> Result<Vec<i32>> {
    let mut ids = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        match by_key.get(key.as_str()) {
            Some(id) if !ids.contains(id) => ids.push(*id),
            Some(_) => {}
            None => {
                return Err(RegistryError::invalid(
                    format!("{field}[{i}]"),
                    format!("there is no {what} `{key}`"),
                ));
            }
        }
    }
    Ok(ids)
}

pub(crate) async fn resolve_categories(
    conn: &impl ConnectionTrait,
    field: &str,
    keys: &[String],
) -> Result<Vec<i32>> {
    resolve::<data_category::Entity, _>(
        conn,
        field,
        keys,
        data_category::Column::Key,
        |m| m.id,
        |m| &m.key,
        "data category",
    )
    .await
}

pub(crate) async fn resolve_subjects(
    conn: &impl ConnectionTrait,
    field: &str,
    keys: &[String],
) -> Result<Vec<i32>> {
    resolve::<data_subject_category::Entity, _>(
        conn,
        field,
        keys,
        data_subject_category::Column::Key,
        |m| m.id,
        |m| &m.key,
        "data subject category",
    )
    .await
}

pub(crate) async fn resolve_products(
    conn: &impl ConnectionTrait,
    field: &str,
    keys: &[String],
) -> Result<Vec<i32>> {
    resolve::<product::Entity, _>(
        conn,
        field,
        keys,
        product::Column::Key,
        |m| m.id,
        |m| &m.key,
        "product",
    )
    .await
}

/// The ids of the categories with the given keys and all their descendants. An unknown key is
/// an error naming it.
pub(crate) async fn categories_with_descendants(
    conn: &impl ConnectionTrait,
    field: &str,
    keys: &[String],
) -> Result<Vec<i32>> {
    // The taxonomy is small (tens to hundreds of terms): matching prefixes in Rust keeps the
    // query flat whatever the number of keys asked for.
    let rows = data_category::Entity::find().all(conn).await?;
    for (i, key) in keys.iter().enumerate() {
        if !rows.iter().any(|r| &r.key == key) {
            return Err(RegistryError::invalid(
                format!("{field}[{i}]"),
                format!("there is no data category `{key}`"),
            ));
        }
    }
    Ok(rows
        .into_iter()
        .filter(|r| keys.iter().any(|k| category_covers(k, &r.key)))
        .map(|r| r.id)
        .collect())
}

impl Registry {
    /// The organization that keeps the registry, once it is recorded.
    pub async fn organization(&self) -> Result<Option<organization::Model>> {
        // Every public page and feed names it: read once per generation.
        struct Organization;
        self.kept::<Organization, _, _, _>((), || async {
            Ok(organization::Entity::find()
                .order_by_asc(organization::Column::Id)
                .one(self.db())
                .await?)
        })
        .await
    }

    /// Records or replaces the organization's details.
    pub async fn set_organization(&self, input: OrganizationInput) -> Result<organization::Model> {
        let mut row = organization::ActiveModel {
            name: Set(validate::name("name", &input.name)?),
            address: Set(validate::text("address", Some(&input.address))?
                .ok_or_else(|| RegistryError::invalid("address", "must not be empty"))?),
            country: Set(validate::country("country", &input.country)?),
            dpo_name: Set(validate::name("dpoName", &input.dpo_name)?),
            dpo_email: Set(validate::name("dpoEmail", &input.dpo_email)?),
            dpo_address: Set(validate::text("dpoAddress", input.dpo_address.as_deref())?),
            representative: Set(validate::text(
                "representative",
                input.representative.as_deref(),
            )?),
            controllers_register: Set(validate::text(
                "controllersRegister",
                input.controllers_register.as_deref(),
            )?),
            sources: Set(TextList(validate::texts("sources", &input.sources)?)),
            ..Default::default()
        };
        if !input.dpo_email.contains('@') {
            return Err(RegistryError::invalid(
                "dpoEmail",
                "must be an email address",
            ));
        }
        let write = self.write().await?;
        let txn = &write.txn;
        let saved = match organization::Entity::find().one(txn).await? {
            Some(existing) => {
                row.id = Set(existing.id);
                row.update(txn).await?
            }
            None => row.insert(txn).await?,
        };
        self.commit(write, None).await?;
        Ok(saved)
    }

    /// All data categories, parents before children.
    pub async fn data_categories(&self) -> Result<Vec<data_category::Model>> {
        Ok(data_category::Entity::find()
            .order_by_asc(data_category::Column::Key)
            .all(self.db())
            .await?)
    }

    pub async fn data_category(&self, id: i32) -> Result<Option<data_category::Model>> {
        Ok(data_category::Entity::find_by_id(id).one(self.db()).await?)
    }

    pub async fn data_category_by_key(&self, key: &str) -> Result<Option<data_category::Model>> {
        Ok(data_category::Entity::find()
            .filter(data_category::Column::Key.eq(key))
            .one(self.db())
            .await?)
    }

    pub async fn data_subjects(&self) -> Result<Vec<data_subject_category::Model>> {
        Ok(data_subject_category::Entity::find()
            .order_by_asc(data_subject_category::Column::Key)
            .all(self.db())
            .await?)
    }

    pub async fn data_subject(&self, id: i32) -> Result<Option<data_subject_category::Model>> {
        Ok(data_subject_category::Entity::find_by_id(id)
            .one(self.db())
            .await?)
    }

    pub async fn products(&self) -> Result<Vec<product::Model>> {
        Ok(product::Entity::find()
            .order_by_asc(product::Column::Key)
            .all(self.db())
            .await?)
    }

    pub async fn product(&self, id: i32) -> Result<Option<product::Model>> {
        Ok(product::Entity::find_by_id(id).one(self.db()).await?)
    }

    /// Adds a data category under its parent (the key without its last segment).
    pub async fn create_data_category(
        &self,
        input: DataCategoryInput,
    ) -> Result<data_category::Model> {
        let key = validate::category_key("key", &input.key)?;
        let write = self.write().await?;
        let txn = &write.txn;
        let parent_id = match key.rsplit_once('.') {
            Some((parent, _)) => Some(
                data_category::Entity::find()
                    .filter(data_category::Column::Key.eq(parent))
                    .one(txn)
                    .await?
                    .ok_or_else(|| {
                        RegistryError::invalid(
                            "key",
                            format!("the parent category `{parent}` does not exist"),
                        )
                    })?
                    .id,
            ),
            None => None,
        };
        let row = data_category::ActiveModel {
            key: Set(key),
            parent_id: Set(parent_id),
            name: Set(validate::name("name", &input.name)?),
            description: Set(validate::text("description", input.description.as_deref())?),
            special_category: Set(input.special_category),
            fides_key: Set(validate::text("fidesKey", input.fides_key.as_deref())?),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        self.commit(write, None).await?;
        Ok(row)
    }

    /// Changes a data category's name, description, Art. 9 flag or fideslang key; its key is its
    /// identity and place in the hierarchy, so it stays.
    pub async fn update_data_category(
        &self,
        id: i32,
        input: DataCategoryInput,
    ) -> Result<data_category::Model> {
        let write = self.write().await?;
        let txn = &write.txn;
        let existing = data_category::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| RegistryError::not_found("DataCategory", id))?;
        if existing.key != input.key {
            return Err(RegistryError::invalid(
                "key",
                "a data category's key cannot change; create a new category instead",
            ));
        }
        let mut row: data_category::ActiveModel = existing.into();
        row.name = Set(validate::name("name", &input.name)?);
        row.description = Set(validate::text("description", input.description.as_deref())?);
        row.special_category = Set(input.special_category);
        row.fides_key = Set(validate::text("fidesKey", input.fides_key.as_deref())?);
        let row = row.update(txn).await?;
        self.commit(write, None).await?;
        Ok(row)
    }

    /// Removes a data category that nothing uses.
    pub async fn delete_data_category(&self, id: i32) -> Result<data_category::Model> {
        let write = self.write().await?;
        let txn = &write.txn;
        let existing = data_category::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| RegistryError::not_found("DataCategory", id))?;
        let children = data_category::Entity::find()
            .filter(data_category::Column::ParentId.eq(id))
            .count(txn)
            .await?;
        let used = activity_data_category::Entity::find()
            .filter(activity_data_category::Column::DataCategoryId.eq(id))
            .count(txn)
            .await?
            + flow_data_category::Entity::find()
                .filter(flow_data_category::Column::DataCategoryId.eq(id))
                .count(txn)
                .await?;
        if children > 0 || used > 0 {
            return Err(RegistryError::Conflict(format!(
                "data category `{}` still has {children} subcategories and {used} uses in activities and flows",
                existing.key
            )));
        }
        data_category::Entity::delete_by_id(id).exec(txn).await?;
        self.commit(write, None).await?;
        Ok(existing)
    }

    pub async fn create_data_subject(
        &self,
        input: TermInput,
    ) -> Result<data_subject_category::Model> {
        let write = self.write().await?;
        let txn = &write.txn;
        let row = data_subject_category::ActiveModel {
            key: Set(validate::key("key", &input.key)?),
            name: Set(validate::name("name", &input.name)?),
            description: Set(validate::text("description", input.description.as_deref())?),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        self.commit(write, None).await?;
        Ok(row)
    }

    /// Changes a data subject category's name or description; its key is its identity.
    pub async fn update_data_subject(
        &self,
        id: i32,
        input: TermInput,
    ) -> Result<data_subject_category::Model> {
        let write = self.write().await?;
        let txn = &write.txn;
        let existing = data_subject_category::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| RegistryError::not_found("DataSubjectCategory", id))?;
        if existing.key != input.key {
            return Err(RegistryError::invalid(
                "key",
                "a data subject category's key cannot change; create a new one instead",
            ));
        }
        let mut row: data_subject_category::ActiveModel = existing.into();
        row.name = Set(validate::name("name", &input.name)?);
        row.description = Set(validate::text("description", input.description.as_deref())?);
        let row = row.update(txn).await?;
        self.commit(write, None).await?;
        Ok(row)
    }

    pub async fn delete_data_subject(&self, id: i32) -> Result<data_subject_category::Model> {
        let write = self.write().await?;
        let txn = &write.txn;
        let existing = data_subject_category::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| RegistryError::not_found("DataSubjectCategory", id))?;
        let used = activity_data_subject::Entity::find()
            .filter(activity_data_subject::Column::DataSubjectId.eq(id))
            .count(txn)
            .await?
            + flow_data_subject::Entity::find()
                .filter(flow_data_subject::Column::DataSubjectId.eq(id))
                .count(txn)
                .await?;
        if used > 0 {
            return Err(RegistryError::Conflict(format!(
                "data subject category `{}` is still used by {used} activities and flows",
                existing.key
            )));
        }
        data_subject_category::Entity::delete_by_id(id)
            .exec(txn)
            .await?;
        self.commit(write, None).await?;
        Ok(existing)
    }

    pub async fn create_product(&self, input: TermInput) -> Result<product::Model> {
        let write = self.write().await?;
        let txn = &write.txn;
        let row = product::ActiveModel {
            key: Set(validate::key("key", &input.key)?),
            name: Set(validate::name("name", &input.name)?),
            description: Set(validate::text("description", input.description.as_deref())?),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        self.commit(write, None).await?;
        Ok(row)
    }

    /// Changes a product's name or description; its key is its identity.
    pub async fn update_product(&self, id: i32, input: TermInput) -> Result<product::Model> {
        let write = self.write().await?;
        let txn = &write.txn;
        let existing = product::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| RegistryError::not_found("Product", id))?;
        if existing.key != input.key {
            return Err(RegistryError::invalid(
                "key",
                "a product's key cannot change; create a new product instead",
            ));
        }
        let mut row: product::ActiveModel = existing.into();
        row.name = Set(validate::name("name", &input.name)?);
        row.description = Set(validate::text("description", input.description.as_deref())?);
        let row = row.update(txn).await?;
        self.commit(write, None).await?;
        Ok(row)
    }

    pub async fn delete_product(&self, id: i32) -> Result<product::Model> {
        let write = self.write().await?;
        let txn = &write.txn;
        let existing = product::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| RegistryError::not_found("Product", id))?;
        let used = activity_product::Entity::find()
            .filter(activity_product::Column::ProductId.eq(id))
            .count(txn)
            .await?;
        if used > 0 {
            return Err(RegistryError::Conflict(format!(
                "product `{}` is still served by {used} activities",
                existing.key
            )));
        }
        product::Entity::delete_by_id(id).exec(txn).await?;
        self.commit(write, None).await?;
        Ok(existing)
    }

    pub async fn data_categories_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, data_category::Model>> {
        Ok(data_category::Entity::find()
            .filter(data_category::Column::Id.is_in(ids.iter().copied()))
            .all(self.db())
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect())
    }
}

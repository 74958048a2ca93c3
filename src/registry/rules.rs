//! The registry's derived rules, each written once. Every other place (SQL filters, the
//! GraphQL objects, the past-date views, the record of processing activities) calls these; where
//! a query needs a rule, its SQL fragment is built here, beside the Rust statement of it.

use entity::{
    OrganizationRole, RecipientRole, data_flow, processing_activity, recipient,
    recipient_subprocessor,
};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ColumnTrait, Condition};

/// The role a recipient plays in a flow: the flow's own, or else the recipient's default (a
/// carrier is a mere conduit for message content and a controller for its own billing).
pub fn effective_role(
    flow_role: Option<RecipientRole>,
    default_role: RecipientRole,
) -> RecipientRole {
    flow_role.unwrap_or(default_role)
}

/// Whether a flow makes its recipient a subprocessor: the organization acts as processor in
/// the activity (for its customers) and the recipient as processor in the flow (GDPR Art.
/// 28(2) and 28(4)). A recipient with at least one such flow is a subprocessor; the status is
/// derived from the flows, and kept per recipient only as their refresh leaves it (SQL asks it
/// with [`is_subprocessor`]).
pub fn is_subprocessing(
    organization_role: OrganizationRole,
    recipient_role: RecipientRole,
) -> bool {
    organization_role == OrganizationRole::Processor && recipient_role == RecipientRole::Processor
}

/// Whether the data category `ancestor` covers `key`: the category itself or one of its
/// descendants, whose dotted keys extend it (`contact` covers `contact.phone_number`).
pub fn category_covers(ancestor: &str, key: &str) -> bool {
    key.strip_prefix(ancestor)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// SQL: data flows in which the recipient's role ([`effective_role`]) is one of `roles`.
pub(crate) fn effective_role_in(roles: &[RecipientRole]) -> Condition {
    let by_default = Query::select()
        .column(recipient::Column::Id)
        .from(recipient::Entity)
        .and_where(recipient::Column::DefaultRole.is_in(roles.iter().copied()))
        .to_owned();
    Condition::any()
        .add(data_flow::Column::Role.is_in(roles.iter().copied()))
        .add(
            Condition::all()
                .add(data_flow::Column::Role.is_null())
                .add(data_flow::Column::RecipientId.in_subquery(by_default)),
        )
}

/// SQL: the data flows that make their recipient a subprocessor ([`is_subprocessing`]).
pub(crate) fn subprocessing_flows() -> Condition {
    let processor_activities = Query::select()
        .column(processing_activity::Column::Id)
        .from(processing_activity::Entity)
        .and_where(processing_activity::Column::OrganizationRole.eq(OrganizationRole::Processor))
        .to_owned();
    Condition::all()
        .add(data_flow::Column::ActivityId.in_subquery(processor_activities))
        .add(effective_role_in(&[RecipientRole::Processor]))
}

/// SQL: whether the recipient of the enclosing query is a subprocessor, as the registry keeps it
/// (`recipient_subprocessor`, refreshed by every change from [`derives_subprocessor`]): one
/// index read per recipient, whatever the number of flows.
pub(crate) fn is_subprocessor() -> SimpleExpr {
    let kept = Query::select()
        .column(recipient_subprocessor::Column::RecipientId)
        .from(recipient_subprocessor::Entity)
        .to_owned();
    Expr::col((recipient::Entity, recipient::Column::Id)).in_subquery(kept)
}

/// SQL: whether the recipient of the enclosing query is a subprocessor, derived from its flows:
/// some flow to it makes it one ([`is_subprocessing`]). A correlated `EXISTS` along the flows'
/// recipient index, which stops at the first such flow. Only the refresh of the kept facts
/// (`registry::derived`) asks it; every reader asks [`is_subprocessor`].
pub(crate) fn derives_subprocessor() -> SimpleExpr {
    let flow = |column: data_flow::Column| Expr::col((data_flow::Entity, column));
    let activity =
        |column: processing_activity::Column| Expr::col((processing_activity::Entity, column));
    let processor = RecipientRole::Processor;
    // A join rather than `activity_id IN (processor activities)`: SQLite would otherwise probe
    // the index once per processor activity (a thousand probes where a recipient has a few
    // flows) instead of walking the recipient's flows.
    let subprocessing = Query::select()
        .expr(Expr::val(1))
        .from(data_flow::Entity)
        .inner_join(
            processing_activity::Entity,
            activity(processing_activity::Column::Id)
                .equals((data_flow::Entity, data_flow::Column::ActivityId)),
        )
        .and_where(
            flow(data_flow::Column::RecipientId).equals((recipient::Entity, recipient::Column::Id)),
        )
        .and_where(
            activity(processing_activity::Column::OrganizationRole).eq(OrganizationRole::Processor),
        )
        .cond_where(
            Condition::any()
                .add(flow(data_flow::Column::Role).eq(processor))
                .add(
                    Condition::all()
                        .add(flow(data_flow::Column::Role).is_null())
                        .add(
                            Expr::col((recipient::Entity, recipient::Column::DefaultRole))
                                .eq(processor),
                        ),
                ),
        )
        .to_owned();
    Expr::exists(subprocessing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn a_flow_overrides_the_recipients_default_role() {
        use RecipientRole::*;
        assert_eq!(effective_role(None, Processor), Processor);
        assert_eq!(effective_role(Some(MereConduit), Controller), MereConduit);
        assert_eq!(effective_role(Some(Controller), Processor), Controller);
    }

    #[test]
    fn only_a_processor_of_a_processor_is_a_subprocessor() {
        for organization in OrganizationRole::iter() {
            for recipient in RecipientRole::iter() {
                assert_eq!(
                    is_subprocessing(organization, recipient),
                    organization == OrganizationRole::Processor
                        && recipient == RecipientRole::Processor,
                    "{organization:?} / {recipient:?}"
                );
            }
        }
    }

    #[test]
    fn a_category_covers_its_descendants_only() {
        assert!(category_covers("contact", "contact"));
        assert!(category_covers("contact", "contact.phone_number"));
        assert!(category_covers("contact", "contact.phone_number.mobile"));
        assert!(!category_covers("contact", "contacts"));
        assert!(!category_covers("contact.phone_number", "contact"));
        assert!(!category_covers("telecom", "contact.telecom"));
    }
}

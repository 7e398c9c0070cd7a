//! Reading and advancing a test tenant's clock (tenant admins).

use crate::{
    app::AppState,
    auth::Principal,
    authz::TestClockAction,
    bookings,
    db::Timestamp,
    error::{ApiError, ErrorCode, FieldError},
    payments, reviews,
    tenants::{Tenant, service as tenants},
};

/// The longest single advance: ten years.
const MAX_HOURS: u32 = 24 * 366 * 10;

/// Where to move the clock: to a time, or forward by hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    To(Timestamp),
    Hours(u32),
}

impl Advance {
    /// Exactly one of `to` and `hours` (1 to ten years' worth).
    pub fn parse(to: Option<Timestamp>, hours: Option<u32>) -> Result<Self, ApiError> {
        match (to, hours) {
            (Some(to), None) => Ok(Self::To(to)),
            (None, Some(hours)) if (1..=MAX_HOURS).contains(&hours) => Ok(Self::Hours(hours)),
            (None, Some(_)) => Err(ApiError::validation(
                "hours",
                format!("must be 1 to {MAX_HOURS}"),
            )),
            _ => Err(ApiError::Validation(vec![
                FieldError::new("to", "give either `to` or `hours`"),
                FieldError::new("hours", "give either `to` or `hours`"),
            ])),
        }
    }
}

fn require_test_tenant(tenant: &Tenant) -> Result<(), ApiError> {
    if tenant.test_mode {
        Ok(())
    } else {
        Err(ApiError::Conflict {
            code: ErrorCode::NotATestTenant,
            detail: "Only test tenants have a test clock.".into(),
        })
    }
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn now(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
) -> Result<Timestamp, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, TestClockAction::Read)
        .await?;
    require_test_tenant(tenant)?;
    Ok(tenant.now())
}

/// Moves the clock forward and runs what fell due in the tenant by then (expiry of requests
/// and holds, completion of stays, payouts, publication of reviews whose window closed);
/// returns the new time.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, advance = ?advance))]
pub async fn advance(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    advance: Advance,
) -> Result<Timestamp, ApiError> {
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, TestClockAction::Advance)
        .await?;
    require_test_tenant(tenant)?;
    // The request's tenant may be another replica's copy: start from the stored clock.
    let current = tenants::find_by_id(&state.db, tenant.id)
        .await?
        .ok_or(ApiError::TenantNotFound)?
        .now();
    let to = match advance {
        Advance::To(to) => to,
        Advance::Hours(hours) => current + time::Duration::hours(i64::from(hours)),
    };
    if to < current {
        return Err(ApiError::validation(
            "to",
            format!(
                "must not be earlier than the tenant's clock ({})",
                current.get()
            ),
        ));
    }
    let moved = tenants::advance_clock(state, &permit, tenant, to).await?;
    bookings::jobs::run_due(&state.db, &moved).await?;
    payments::service::run_due(state, &moved).await?;
    reviews::service::run_due(state, &moved).await?;
    tracing::info!(now = %moved.now().get(), "test clock advanced");
    Ok(moved.now())
}

//! Authentication's background work: emailing password-reset links, so that a reset request
//! does the same work whether or not the address has an account.

use serde::{Deserialize, Serialize};

use super::service;
use crate::{
    jobs::{Job, JobContext, JobError, JobRegistry},
    tenants::service as tenants,
};

/// Emails a reset link to the account with `email` (normalized), if there is one.
#[derive(Debug, Serialize, Deserialize)]
pub struct SendPasswordReset {
    pub email: String,
}

impl Job for SendPasswordReset {
    const KIND: &'static str = "auth.password_reset";
}

pub fn register_jobs(registry: &mut JobRegistry) {
    registry.register(send_password_reset);
}

#[tracing::instrument(skip_all)]
async fn send_password_reset(context: JobContext, job: SendPasswordReset) -> Result<(), JobError> {
    let tenant_id = context
        .tenant
        .ok_or_else(|| JobError::Permanent("a password reset without its tenant".into()))?;
    let Some(tenant) = tenants::find_by_id(&context.state.db, tenant_id).await? else {
        return Err(JobError::Permanent(format!(
            "tenant {} does not exist",
            tenant_id.0
        )));
    };
    service::send_password_reset(&context.state, &tenant, &job.email).await?;
    Ok(())
}

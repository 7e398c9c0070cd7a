//! iCalendar (RFC 5545) export of a property's unavailable nights (its host's blocks and its
//! bookings), for the other platforms a host lists on. The feed lives at an unguessable URL
//! the host can rotate.

use time::Date;

use super::{
    calendar::{self, MAX_NIGHTS},
    service as properties, store,
};
use crate::{
    app::AppState,
    auth::{Principal, secrets},
    authz::PropertyAction,
    bookings,
    db::{Db, Timestamp},
    error::ApiError,
    ids::{PropertyId, TenantId},
    on_db,
    tenants::Tenant,
};

pub fn new_token() -> String {
    secrets::generate("cal_")
}

pub fn export_url(tenant: &Tenant, token: &str) -> String {
    format!("/v1/t/{}/ical/{token}.ics", tenant.slug)
}

/// Replaces the feed's secret; the old URL stops working. Returns the new URL.
pub async fn rotate(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
) -> Result<String, ApiError> {
    let (_, permit) = properties::for_change(
        state,
        tenant,
        principal,
        property,
        (PropertyAction::UpdateOwn, PropertyAction::UpdateAny),
    )
    .await?;
    let token = new_token();
    let mut tx = state.db.begin().await?;
    if !store::set_ical_token(&mut tx, &permit, property, &token).await? {
        return Err(ApiError::NotFound("property"));
    }
    tx.commit().await?;
    Ok(export_url(tenant, &token))
}

async fn property_of_token(
    db: &Db,
    tenant: TenantId,
    token: &str,
) -> Result<Option<(PropertyId, String)>, ApiError> {
    let row: Option<(uuid::Uuid, String)> = on_db!(db, |pool| {
        sqlx::query_as("SELECT id, name FROM properties WHERE tenant_id = $1 AND ical_token = $2 AND deleted_at IS NULL")
            .bind(tenant.0)
            .bind(token)
            .fetch_optional(pool)
            .await
    })?;
    Ok(row.map(|(id, name)| (PropertyId(id), name)))
}

/// The feed: one all-day event per unavailable range, from today for a year.
pub async fn export(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    token: &str,
) -> Result<String, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, PropertyAction::Read)
        .await?;
    let (property, name) = property_of_token(&state.db, tenant.id, token)
        .await?
        .ok_or(ApiError::NotFound("calendar"))?;
    let today = tenant.settings.today();
    let until = today + time::Duration::days(MAX_NIGHTS);
    let blocks = calendar::blocks_between(
        &state.db,
        tenant.id,
        property,
        (today, until),
        calendar::Sources::Host,
    )
    .await?;
    let booked =
        bookings::store::held_between(&state.db, tenant.id, property, (today, until)).await?;
    // Bookings and blocks alike, by start: other platforms need only know the nights are taken.
    let mut taken: Vec<(uuid::Uuid, Date, Date)> = blocks
        .into_iter()
        .map(|block| (block.id, block.start, block.end))
        .chain(
            booked
                .into_iter()
                .map(|(id, check_in, check_out)| (id.0, check_in, check_out)),
        )
        .collect();
    taken.sort_by_key(|(id, start, _)| (*start, *id));
    let stamp = Timestamp::now().get();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second()
    );
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Staybase//Calendar export//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        format!(
            "X-WR-CALNAME:{}",
            escape(&format!("{name} ({})", tenant.settings.display_name))
        ),
    ];
    for (id, start, end) in taken {
        lines.extend([
            "BEGIN:VEVENT".to_owned(),
            format!("UID:{id}@{}.staybase", tenant.slug),
            format!("DTSTAMP:{stamp}"),
            format!("DTSTART;VALUE=DATE:{}", ical_date(start)),
            format!("DTEND;VALUE=DATE:{}", ical_date(end)),
            "SUMMARY:Not available".to_owned(),
            "TRANSP:OPAQUE".to_owned(),
            "END:VEVENT".to_owned(),
        ]);
    }
    lines.push("END:VCALENDAR".to_owned());
    Ok(lines
        .iter()
        .map(|line| fold(line))
        .collect::<Vec<_>>()
        .join(""))
}

fn ical_date(date: Date) -> String {
    format!(
        "{:04}{:02}{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Escapes a TEXT value (RFC 5545 3.3.11).
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
        .replace('\r', "")
}

/// A content line, folded at 75 octets (without splitting a character), ending in CRLF.
fn fold(line: &str) -> String {
    let mut folded = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for character in line.chars() {
        let size = character.len_utf8();
        if width + size > 75 {
            folded.push_str("\r\n ");
            width = 1;
        }
        folded.push(character);
        width += size;
    }
    folded.push_str("\r\n");
    folded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let line = format!("X-WR-CALNAME:{}", "é".repeat(60));
        let folded = fold(&line);
        assert!(folded.ends_with("\r\n"));
        for part in folded.trim_end_matches("\r\n").split("\r\n") {
            assert!(part.len() <= 75, "{part}");
        }
        assert_eq!(folded.replace("\r\n ", "").trim_end(), line);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("Sea, sun; fun\\"), "Sea\\, sun\\; fun\\\\");
    }
}

//! Calendar imports: a host's calendars on other platforms.

use uuid::Uuid;

use crate::db::Timestamp;

/// Calendars per property.
pub const MAX_IMPORTS: usize = 10;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CalendarImport {
    pub id: Uuid,
    pub property_id: Uuid,
    pub url: String,
    pub last_synced_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

impl CalendarImport {
    /// The `source` of the blocked ranges this import makes.
    pub fn source(&self) -> String {
        source_of(self.id)
    }
}

pub fn source_of(import: Uuid) -> String {
    format!("import:{import}")
}

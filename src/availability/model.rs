//! What makes a night unavailable.

use time::Date;
use uuid::Uuid;

use crate::ids::BookingId;

/// A blocked range of nights `[start, end)`: the host's own, or one an imported calendar made.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Block {
    pub id: Uuid,
    #[sqlx(rename = "start_date")]
    pub start: Date,
    #[sqlx(rename = "end_date")]
    pub end: Date,
    pub reason: Option<String>,
}

/// Which blocked ranges a reader wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sources {
    /// Every range, imported ones included: what makes a night unavailable.
    All,
    /// The host's own ranges: what the host manages here and exports to other platforms
    /// (exporting imported ranges back out would echo calendars between platforms).
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NightStatus {
    Available,
    Booked,
    Blocked,
}

/// Each night of `[from, to)`: booked when a holding booking covers it, else blocked when a
/// range does, else available.
pub fn nights(
    (from, to): (Date, Date),
    booked: &[(BookingId, Date, Date)],
    blocks: &[Block],
) -> Vec<(Date, NightStatus)> {
    let mut nights = Vec::new();
    let mut night = from;
    while night < to {
        let status = if booked
            .iter()
            .any(|(_, check_in, check_out)| *check_in <= night && night < *check_out)
        {
            NightStatus::Booked
        } else if blocks
            .iter()
            .any(|block| block.start <= night && night < block.end)
        {
            NightStatus::Blocked
        } else {
            NightStatus::Available
        };
        nights.push((night, status));
        night = night.next_day().unwrap_or(to);
    }
    nights
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn bookings_win_over_blocks_and_ends_are_exclusive() {
        let booked = [(
            BookingId(Uuid::nil()),
            date!(2027 - 07 - 02),
            date!(2027 - 07 - 04),
        )];
        let blocks = [Block {
            id: Uuid::nil(),
            start: date!(2027 - 07 - 03),
            end: date!(2027 - 07 - 05),
            reason: None,
        }];
        let statuses: Vec<NightStatus> = nights(
            (date!(2027 - 07 - 01), date!(2027 - 07 - 06)),
            &booked,
            &blocks,
        )
        .into_iter()
        .map(|(_, status)| status)
        .collect();
        assert_eq!(
            statuses,
            [
                NightStatus::Available,
                NightStatus::Booked,
                NightStatus::Booked,
                NightStatus::Blocked,
                NightStatus::Available,
            ]
        );
    }
}

//! What makes a night unavailable.

use time::Date;
use uuid::Uuid;

use super::rules::TimeRule;
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

/// A night as a new stay sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NightStatus {
    Available,
    /// A holding booking covers it.
    Booked,
    /// A blocked range (the host's or an imported calendar's) covers it.
    Blocked,
    /// It is among the preparation nights kept free before or after a booking.
    Preparation,
    /// A time rule of the property keeps new stays off it.
    Unavailable(TimeRule),
}

/// Whether `night` is within `preparation` nights before or after a stay `[check_in,
/// check_out)` (and not in it).
fn in_preparation(night: Date, (check_in, check_out): (Date, Date), preparation: u32) -> bool {
    let pad = time::Duration::days(i64::from(preparation));
    let before = check_in
        .checked_sub(pad)
        .is_some_and(|start| start <= night)
        && night < check_in;
    let after = check_out <= night && check_out.checked_add(pad).is_some_and(|end| night < end);
    before || after
}

/// Each night of `[from, to)`: booked when a holding booking covers it, else blocked when a
/// range does, else kept for preparation around a booking, else what the time rules say of it.
pub fn nights(
    (from, to): (Date, Date),
    (booked, blocks): (&[(BookingId, Date, Date)], &[Block]),
    preparation: u32,
    time_rule: impl Fn(Date) -> Option<TimeRule>,
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
        } else if preparation > 0
            && booked.iter().any(|(_, check_in, check_out)| {
                in_preparation(night, (*check_in, *check_out), preparation)
            })
        {
            NightStatus::Preparation
        } else {
            time_rule(night).map_or(NightStatus::Available, NightStatus::Unavailable)
        };
        nights.push((night, status));
        night = night.next_day().unwrap_or(to);
    }
    nights
}

/// The preparation nights before and after each booking, as ranges `[start, end)`.
pub fn preparation_ranges(
    booked: &[(BookingId, Date, Date)],
    preparation: u32,
) -> Vec<(BookingId, Date, Date)> {
    let pad = time::Duration::days(i64::from(preparation));
    booked
        .iter()
        .flat_map(|(id, check_in, check_out)| {
            [
                (
                    *id,
                    check_in.checked_sub(pad).unwrap_or(*check_in),
                    *check_in,
                ),
                (
                    *id,
                    *check_out,
                    check_out.checked_add(pad).unwrap_or(*check_out),
                ),
            ]
        })
        .filter(|(_, start, end)| start < end)
        .collect()
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
            (&booked, &blocks),
            0,
            |_| None,
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

    #[test]
    fn preparation_nights_surround_bookings_and_time_rules_come_last() {
        let booked = [(
            BookingId(Uuid::nil()),
            date!(2027 - 07 - 03),
            date!(2027 - 07 - 05),
        )];
        let statuses: Vec<NightStatus> = nights(
            (date!(2027 - 07 - 01), date!(2027 - 07 - 08)),
            (&booked, &[]),
            1,
            |night| (night >= date!(2027 - 07 - 07)).then_some(TimeRule::OutsideWindow),
        )
        .into_iter()
        .map(|(_, status)| status)
        .collect();
        assert_eq!(
            statuses,
            [
                NightStatus::Available,
                NightStatus::Preparation,
                NightStatus::Booked,
                NightStatus::Booked,
                NightStatus::Preparation,
                NightStatus::Available,
                NightStatus::Unavailable(TimeRule::OutsideWindow),
            ]
        );
        assert_eq!(
            preparation_ranges(&booked, 1),
            [
                (
                    BookingId(Uuid::nil()),
                    date!(2027 - 07 - 02),
                    date!(2027 - 07 - 03)
                ),
                (
                    BookingId(Uuid::nil()),
                    date!(2027 - 07 - 05),
                    date!(2027 - 07 - 06)
                ),
            ]
        );
    }
}

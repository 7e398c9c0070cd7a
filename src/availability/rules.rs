//! A property's stay rules: advance notice, preparation time, allowed check-in and check-out
//! days, booking window, check-in and check-out times, and the time zone they are read in. A
//! pure model: quotes, bookings, search and the calendar apply it through this module only.

use serde::{Deserialize, Serialize};
use time::{Date, Weekday};

use crate::{
    dates::Stay,
    db::Timestamp,
    error::{ApiError, ErrorCode},
    tenants::settings::TenantSettings,
};

/// The longest advance notice, in hours (30 days).
pub const MAX_ADVANCE_NOTICE_HOURS: u32 = 720;
/// The most preparation nights before and after a stay.
pub const MAX_PREPARATION_NIGHTS: u32 = 30;

/// Days of the week as a set: bit 0 is Monday, bit 6 Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weekdays(u8);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Weekdays {
    pub const ALL: Weekdays = Weekdays(0x7f);

    pub fn bit(day: Weekday) -> u8 {
        1 << day.number_days_from_monday()
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    /// The set a stored mask stands for; `None` for an empty or impossible one.
    pub fn from_bits(bits: i64) -> Option<Self> {
        u8::try_from(bits)
            .ok()
            .filter(|bits| (1..=0x7f).contains(bits))
            .map(Self)
    }

    /// Parses day names (`mon` ... `sun`); the error names the first bad entry's index.
    pub fn parse(names: &[String]) -> Result<Self, Option<usize>> {
        let mut bits = 0u8;
        for (index, name) in names.iter().enumerate() {
            let day = DAY_NAMES
                .iter()
                .position(|known| known.eq_ignore_ascii_case(name.trim()))
                .ok_or(Some(index))?;
            bits |= 1 << day;
        }
        Self::from_bits(i64::from(bits)).ok_or(None)
    }

    /// The day names, Monday first.
    pub fn names(self) -> Vec<String> {
        (0..7)
            .filter(|day| self.0 & (1 << day) != 0)
            .map(|day| DAY_NAMES[day].to_owned())
            .collect()
    }

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & Self::bit(day) != 0
    }
}

/// A time of day, `HH:MM`, in minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    pub const fn hm(hours: u16, minutes: u16) -> Self {
        Self(hours * 60 + minutes)
    }

    /// Parses `HH:MM` (00:00 to 23:59).
    pub fn parse(value: &str) -> Option<Self> {
        let (hours, minutes) = value.trim().split_once(':')?;
        if hours.len() != 2 || minutes.len() != 2 {
            return None;
        }
        let hours: u16 = hours.parse().ok()?;
        let minutes: u16 = minutes.parse().ok()?;
        (hours < 24 && minutes < 60).then(|| Self::hm(hours, minutes))
    }

    pub fn hours(self) -> i8 {
        (self.0 / 60) as i8
    }

    pub fn minutes(self) -> i8 {
        (self.0 % 60) as i8
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hours(), self.minutes())
    }
}

/// What a host decides about when a property can be booked. `None` where the tenant's
/// setting applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StayRules {
    /// IANA time zone of the property; `None`: the tenant's.
    pub timezone: Option<String>,
    /// Hours between booking and the check-in time.
    pub advance_notice_hours: u32,
    /// Nights kept free before and after every stay.
    pub preparation_nights: u32,
    pub check_in_weekdays: Weekdays,
    pub check_out_weekdays: Weekdays,
    /// How many days after today a stay may start; `None`: the tenant's.
    pub booking_window_days: Option<u32>,
    pub check_in_time: TimeOfDay,
    pub check_out_time: TimeOfDay,
}

impl Default for StayRules {
    fn default() -> Self {
        Self {
            timezone: None,
            advance_notice_hours: 0,
            preparation_nights: 0,
            check_in_weekdays: Weekdays::ALL,
            check_out_weekdays: Weekdays::ALL,
            booking_window_days: None,
            check_in_time: TimeOfDay::hm(15, 0),
            check_out_time: TimeOfDay::hm(11, 0),
        }
    }
}

/// Whether an IANA time zone name is known.
pub fn is_time_zone(name: &str) -> bool {
    jiff::tz::TimeZone::get(name).is_ok()
}

/// Why a night cannot be part of a new stay, beyond bookings and blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeRule {
    /// Its check-in time is nearer than the advance notice.
    AdvanceNotice,
    /// It is further ahead than the booking window.
    OutsideWindow,
}

/// The rules at one moment, with the tenant's defaults filled in.
pub struct InForce<'a> {
    rules: &'a StayRules,
    zone: jiff::tz::TimeZone,
    window_days: u32,
    now: Timestamp,
}

impl StayRules {
    /// The rules as they apply at `now`, under the tenant's settings.
    pub fn in_force(&self, settings: &TenantSettings, now: Timestamp) -> InForce<'_> {
        let zone = jiff::tz::TimeZone::get(self.timezone.as_deref().unwrap_or(&settings.timezone))
            .unwrap_or(jiff::tz::TimeZone::UTC);
        InForce {
            rules: self,
            zone,
            window_days: self
                .booking_window_days
                .unwrap_or(settings.booking_window_days),
            now,
        }
    }
}

fn to_jiff(date: Date) -> jiff::civil::Date {
    jiff::civil::date(
        date.year() as i16,
        u8::from(date.month()) as i8,
        date.day() as i8,
    )
}

fn from_jiff(date: jiff::civil::Date) -> Option<Date> {
    let month = time::Month::try_from(date.month() as u8).ok()?;
    Date::from_calendar_date(i32::from(date.year()), month, date.day() as u8).ok()
}

impl InForce<'_> {
    /// The property's date at its now.
    pub fn today(&self) -> Date {
        let at = jiff::Timestamp::from_second(self.now.get().unix_timestamp())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        from_jiff(self.zone.to_datetime(at).date()).unwrap_or_else(|| self.now.get().date())
    }

    /// The instant of `time` on `date` at the property (a time a DST change skips is read
    /// after the gap, a repeated one as its first occurrence).
    pub fn instant(&self, date: Date, time: TimeOfDay) -> Timestamp {
        let local = to_jiff(date).at(time.hours(), time.minutes(), 0, 0);
        let seconds = self
            .zone
            .to_timestamp(local)
            .map(|at| at.as_second())
            .unwrap_or_else(|_| date.midnight().assume_utc().unix_timestamp());
        time::OffsetDateTime::from_unix_timestamp(seconds)
            .map(Timestamp::from)
            .unwrap_or(self.now)
    }

    /// When a stay starting on `date` checks in.
    pub fn check_in_at(&self, date: Date) -> Timestamp {
        self.instant(date, self.rules.check_in_time)
    }

    /// When a stay ending on `date` checks out.
    pub fn check_out_at(&self, date: Date) -> Timestamp {
        self.instant(date, self.rules.check_out_time)
    }

    /// Why no new stay may include `night` at this moment, if a time rule says so. With no
    /// advance notice, today stays bookable all day.
    pub fn time_rule(&self, night: Date) -> Option<TimeRule> {
        let notice = i64::from(self.rules.advance_notice_hours);
        if notice > 0 && self.check_in_at(night) < self.now + time::Duration::hours(notice) {
            return Some(TimeRule::AdvanceNotice);
        }
        if (night - self.today()).whole_days() > i64::from(self.window_days) {
            return Some(TimeRule::OutsideWindow);
        }
        None
    }

    /// Checks a stay against the time and weekday rules: 409 naming the first rule it breaks.
    pub fn check(&self, stay: Stay) -> Result<(), ApiError> {
        let conflict = |code, detail: String| Err(ApiError::Conflict { code, detail });
        match self.time_rule(stay.check_in) {
            Some(TimeRule::OutsideWindow) => {
                return conflict(
                    ErrorCode::OutsideBookingWindow,
                    format!(
                        "Stays can be booked at most {} days ahead.",
                        self.window_days
                    ),
                );
            }
            Some(TimeRule::AdvanceNotice) => {
                return conflict(
                    ErrorCode::AdvanceNotice,
                    format!(
                        "This property must be booked at least {} hours before its check-in \
                         time ({}).",
                        self.rules.advance_notice_hours, self.rules.check_in_time
                    ),
                );
            }
            None => {}
        }
        if !self
            .rules
            .check_in_weekdays
            .contains(stay.check_in.weekday())
        {
            return conflict(
                ErrorCode::CheckInDayNotAllowed,
                format!(
                    "Check-in is allowed on: {}.",
                    self.rules.check_in_weekdays.names().join(", ")
                ),
            );
        }
        if !self
            .rules
            .check_out_weekdays
            .contains(stay.check_out.weekday())
        {
            return conflict(
                ErrorCode::CheckOutDayNotAllowed,
                format!(
                    "Check-out is allowed on: {}.",
                    self.rules.check_out_weekdays.names().join(", ")
                ),
            );
        }
        Ok(())
    }
}

/// The nights kept free around stays: a new stay `[a, b)` with `nights` of preparation needs
/// no holding booking in `[a - nights, b + nights)`.
pub fn with_preparation(stay: Stay, nights: u32) -> (Date, Date) {
    let pad = time::Duration::days(i64::from(nights));
    (
        stay.check_in.checked_sub(pad).unwrap_or(stay.check_in),
        stay.check_out.checked_add(pad).unwrap_or(stay.check_out),
    )
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    fn settings(timezone: &str) -> TenantSettings {
        let mut settings = TenantSettings::defaults("t");
        settings.timezone = timezone.into();
        settings.booking_window_days = 30;
        settings
    }

    fn at(value: time::PrimitiveDateTime) -> Timestamp {
        Timestamp::from(value.assume_utc())
    }

    #[test]
    fn weekdays_parse_and_name_days() {
        let days = Weekdays::parse(&["fri".into(), "Mon".into()]).unwrap();
        assert_eq!(days.names(), ["mon", "fri"]);
        assert!(days.contains(Weekday::Friday));
        assert!(!days.contains(Weekday::Sunday));
        assert_eq!(
            Weekdays::parse(&["mon".into(), "funday".into()]),
            Err(Some(1))
        );
        assert_eq!(Weekdays::parse(&[]), Err(None));
        assert_eq!(Weekdays::from_bits(0), None);
        assert_eq!(Weekdays::from_bits(127), Some(Weekdays::ALL));
    }

    #[test]
    fn times_of_day_are_hh_mm() {
        assert_eq!(TimeOfDay::parse("09:30"), Some(TimeOfDay::hm(9, 30)));
        assert_eq!(TimeOfDay::hm(15, 0).to_string(), "15:00");
        for bad in ["9:30", "24:00", "12:60", "noon", "12:3"] {
            assert_eq!(TimeOfDay::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn today_is_the_propertys_date() {
        let rules = StayRules {
            timezone: Some("Pacific/Auckland".into()),
            ..StayRules::default()
        };
        let now = at(datetime!(2027-01-10 12:00));
        assert_eq!(
            rules.in_force(&settings("UTC"), now).today(),
            date!(2027 - 01 - 11)
        );
        let tenants = StayRules::default();
        assert_eq!(
            tenants.in_force(&settings("America/New_York"), now).today(),
            date!(2027 - 01 - 10)
        );
    }

    #[test]
    fn advance_notice_counts_to_the_check_in_time_across_a_dst_change() {
        // Paris moves to summer time on 2027-03-28 at 02:00: 15:00 that day is 13:00 UTC.
        let rules = StayRules {
            advance_notice_hours: 24,
            ..StayRules::default()
        };
        let tenant = settings("Europe/Paris");
        let just_in_time = at(datetime!(2027-03-27 13:00));
        let in_force = rules.in_force(&tenant, just_in_time);
        assert_eq!(
            in_force.check_in_at(date!(2027 - 03 - 28)),
            at(datetime!(2027-03-28 13:00))
        );
        assert_eq!(in_force.time_rule(date!(2027 - 03 - 28)), None);
        let late = at(datetime!(2027-03-27 13:01));
        assert_eq!(
            rules
                .in_force(&tenant, late)
                .time_rule(date!(2027 - 03 - 28)),
            Some(TimeRule::AdvanceNotice)
        );
    }

    #[test]
    fn the_window_and_days_are_checked_in_order() {
        let rules = StayRules {
            check_in_weekdays: Weekdays::parse(&["sat".into()]).unwrap(),
            check_out_weekdays: Weekdays::parse(&["sat".into()]).unwrap(),
            ..StayRules::default()
        };
        let now = at(datetime!(2027-07-01 09:00));
        let in_force = rules.in_force(&settings("UTC"), now);
        let code = |check_in, check_out| {
            in_force
                .check(Stay {
                    check_in,
                    check_out,
                })
                .map_err(|err| err.code().as_str())
        };
        // 2027-07-03 and 2027-07-10 are Saturdays.
        assert_eq!(code(date!(2027 - 07 - 03), date!(2027 - 07 - 10)), Ok(()));
        assert_eq!(
            code(date!(2027 - 07 - 04), date!(2027 - 07 - 10)),
            Err("check_in_day_not_allowed")
        );
        assert_eq!(
            code(date!(2027 - 07 - 03), date!(2027 - 07 - 09)),
            Err("check_out_day_not_allowed")
        );
        assert_eq!(
            code(date!(2027 - 08 - 07), date!(2027 - 08 - 14)),
            Err("outside_booking_window")
        );
    }
}

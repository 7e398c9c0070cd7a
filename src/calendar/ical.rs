//! iCalendar (RFC 5545): the export feed of a property's unavailable nights, and the reading of
//! other platforms' feeds into busy ranges.

use time::Date;
use uuid::Uuid;

use crate::{db::Timestamp, tenants::Tenant};

/// The feed: one all-day event per unavailable range (`taken`, sorted by start).
pub fn feed(tenant: &Tenant, property_name: &str, taken: &[(Uuid, Date, Date)]) -> String {
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
            escape(&format!(
                "{property_name} ({})",
                tenant.settings.display_name
            ))
        ),
    ];
    for &(id, start, end) in taken {
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
    lines
        .iter()
        .map(|line| fold(line))
        .collect::<Vec<_>>()
        .join("")
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

/// The busy ranges `[start, end)` of an iCalendar document, clipped to `[from, until)`.
pub fn busy_ranges(document: &[u8], from: Date, until: Date) -> Result<Vec<(Date, Date)>, String> {
    let mut ranges = Vec::new();
    for calendar in ical::IcalParser::new(document) {
        let calendar = calendar.map_err(|err| format!("not an iCalendar document: {err}"))?;
        for event in calendar.events {
            let value = |name: &str| {
                event
                    .properties
                    .iter()
                    .find(|property| property.name == name)
                    .and_then(|property| property.value.as_deref())
                    .and_then(parse_ical_date)
            };
            let Some(start) = value("DTSTART") else {
                continue;
            };
            let end = value("DTEND").unwrap_or(start.next_day().unwrap_or(start));
            let (start, end) = (start.max(from), end.min(until));
            if start < end {
                ranges.push((start, end));
            }
        }
    }
    ranges.sort();
    // Overlapping or touching events become one range.
    let mut merged: Vec<(Date, Date)> = Vec::new();
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    Ok(merged)
}

/// `20270714` or `20270714T150000Z` (the date part).
fn parse_ical_date(value: &str) -> Option<Date> {
    let digits = value.get(..8)?;
    let year = digits.get(..4)?.parse().ok()?;
    let month = time::Month::try_from(digits.get(4..6)?.parse::<u8>().ok()?).ok()?;
    let day = digits.get(6..8)?.parse().ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

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

    #[test]
    fn events_become_merged_clipped_ranges() {
        let document = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270710\r\nDTEND;VALUE=DATE:20270712\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nDTSTART:20270712T150000Z\r\nDTEND:20270714T100000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270101\r\nDTEND;VALUE=DATE:20270103\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270720\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let ranges = busy_ranges(document, date!(2027 - 06 - 01), date!(2028 - 06 - 01)).unwrap();
        assert_eq!(
            ranges,
            [
                (date!(2027 - 07 - 10), date!(2027 - 07 - 14)),
                (date!(2027 - 07 - 20), date!(2027 - 07 - 21)),
            ]
        );
        assert!(
            busy_ranges(
                b"<html>nope</html>",
                date!(2027 - 01 - 01),
                date!(2028 - 01 - 01)
            )
            .map_or(true, |r| r.is_empty())
        );
    }
}

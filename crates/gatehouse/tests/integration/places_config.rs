//! The place sections of the configuration (`[places]`, `[[locations]]`, `[[terminals]]`,
//! `[[schedules]]`): a good file gives the places a person wrote, and every mistake is reported
//! with file, line, column and key, through `Config::from_toml` and `gatehouse check-config`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use gatehouse::config::Config;
use jiff::civil::{date, Weekday};
use places::Unregistered;

const GOOD: &str = r#"
[places]
unregistered = "filtered"
time_zone = "America/New_York"
max_sessions_per_principal = 2

[[locations]]
name = "reading-room"
description = "Reading room, 2nd floor"
time_zone = "Europe/Berlin"
seats = 5
idle_timeout = "90s"
closed = ["2026-12-24", 2026-12-25]
[locations.hours]
mon = ["09:00-12:00", "13:00-18:00"]
sat = ["10:00-14:00"]

[[locations]]
name = "staff-office"

[[terminals]]
name = "rr-01"
location = "reading-room"
addresses = ["127.0.0.11", "127.0.0.16/30"]

[[terminals]]
name = "desk"
location = "staff-office"
addresses = ["::ffff:127.0.0.20", "fd00::/64"]

[[schedules]]
name = "exam-week"
hours = { mon = ["08:00-12:00"] }
closed = []
"#;

fn problems(text: &str) -> Vec<String> {
    match Config::from_toml(text, "test.toml", Path::new(".")) {
        Ok(_) => vec![],
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

#[test]
fn a_good_file_gives_the_places_it_describes() {
    let c = Config::from_toml(GOOD, "test.toml", Path::new(".")).unwrap();
    let p = &c.places;
    assert_eq!(p.unregistered(), &Unregistered::Cap("filtered".into()));
    assert_eq!(p.max_sessions_per_principal(), 2);
    assert_eq!(p.default_time_zone().iana_name(), Some("America/New_York"));
    let (t, room) = p.terminal_of("127.0.0.18".parse().unwrap()).unwrap();
    assert_eq!(&*t.name, "rr-01");
    assert_eq!(&*room.name, "reading-room");
    assert_eq!(room.description, "Reading room, 2nd floor");
    assert_eq!(room.seats, Some(5));
    assert_eq!(room.idle_timeout, Duration::from_secs(90));
    assert_eq!(room.closed, [date(2026, 12, 24), date(2026, 12, 25)]);
    assert_eq!(room.hours.as_ref().unwrap().day(Weekday::Monday).len(), 2);
    // Monday 7 December 2026, 10:00 in Berlin: open until the lunch break.
    let s = room.state_at(ts("2026-12-07T09:00:00Z"));
    assert!(s.open);
    assert_eq!(s.closes_at, Some(ts("2026-12-07T11:00:00Z")));
    assert!(
        !room.is_open_at(ts("2026-12-08T09:00:00Z")),
        "Tuesday is closed"
    );
    // The office has no hours (always open), the default time zone and idle timeout, no seat limit.
    let (t, office) = p.terminal_of("127.0.0.20".parse().unwrap()).unwrap();
    assert_eq!((&*t.name, &*office.name), ("desk", "staff-office"));
    assert!(office.hours.is_none() && office.seats.is_none());
    assert_eq!(office.time_zone.iana_name(), Some("America/New_York"));
    assert_eq!(office.idle_timeout, Duration::from_secs(15 * 60));
    assert!(p.terminal_of("fd00::1234".parse().unwrap()).is_some());
    assert!(p.terminal_of("127.0.0.12".parse().unwrap()).is_none());
    // The schedule takes `[places] time_zone`: Monday 08:00 in New York is 13:00 UTC.
    let names = |s: &str| {
        p.active_schedules(ts(s))
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names("2026-12-07T13:00:00Z"), ["exam-week"]);
    assert!(names("2026-12-07T12:59:00Z").is_empty());
}

#[test]
fn without_place_sections_every_address_is_unregistered_and_allowed() {
    let c = Config::from_toml("", "test.toml", Path::new(".")).unwrap();
    assert!(c.places.is_empty());
    assert_eq!(c.places.unregistered(), &Unregistered::Allow);
    assert_eq!(c.places.max_sessions_per_principal(), 1);
    let c = Config::from_toml("[places]\nunregistered = \"open\"\n", "t", Path::new(".")).unwrap();
    assert_eq!(c.places.unregistered(), &Unregistered::Allow);
    let c =
        Config::from_toml("[places]\nunregistered = \"refuse\"\n", "t", Path::new(".")).unwrap();
    assert_eq!(c.places.unregistered(), &Unregistered::Refuse);
    assert!(Config::builtin().unwrap().places.is_empty());
}

#[test]
fn a_terminal_in_an_unknown_location_is_named_with_the_known_ones() {
    let p = problems(
        "[[locations]]\nname = \"reading-room\"\n[[locations]]\nname = \"office\"\n\
         [[terminals]]\nname = \"rr-01\"\nlocation = \"reading-rom\"\naddresses = [\"127.0.0.11\"]\n",
    );
    assert_eq!(
        p,
        ["test.toml:7:12: key `terminals.location`: no location named `reading-rom`; known: `office`, `reading-room`"]
    );
    let p =
        problems("[[terminals]]\nname = \"t\"\nlocation = \"x\"\naddresses = [\"127.0.0.11\"]\n");
    assert_eq!(
        p,
        ["test.toml:3:12: key `terminals.location`: no location named `x`; there is no `[[locations]]` table"]
    );
}

#[test]
fn overlapping_networks_name_both_terminals() {
    let p = problems(
        "[[locations]]\nname = \"room\"\n\
         [[terminals]]\nname = \"rr-01\"\nlocation = \"room\"\naddresses = [\"127.0.0.16/30\"]\n\
         [[terminals]]\nname = \"rr-02\"\nlocation = \"room\"\naddresses = [\"bad\", \"127.0.0.1\", \"127.0.0.17\"]\n",
    );
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].starts_with("test.toml:10:14: key `terminals.addresses`: invalid network `bad`"),
        "{}",
        p[0]
    );
    assert_eq!(
        p[1],
        "test.toml:10:34: key `terminals.addresses`: `127.0.0.17/32` of terminal `rr-02` overlaps `127.0.0.16/30` of terminal `rr-01`; an address belongs to one terminal at most"
    );
    // One terminal listing an address twice, and an IPv4-mapped spelling of another's address.
    let p = problems(
        "[[locations]]\nname = \"room\"\n\
         [[terminals]]\nname = \"a\"\nlocation = \"room\"\naddresses = [\"10.0.0.0/8\", \"10.1.2.3\"]\n\
         [[terminals]]\nname = \"b\"\nlocation = \"room\"\naddresses = [\"::ffff:10.9.9.9\"]\n",
    );
    assert_eq!(
        p,
        [
            "test.toml:6:28: key `terminals.addresses`: `10.1.2.3/32` of terminal `a` overlaps `10.0.0.0/8` of terminal `a`; an address belongs to one terminal at most",
            "test.toml:10:14: key `terminals.addresses`: `10.9.9.9/32` of terminal `b` overlaps `10.0.0.0/8` of terminal `a`; an address belongs to one terminal at most",
        ]
    );
}

#[test]
fn invalid_time_zones_are_located_in_every_section() {
    let p = problems(
        "[places]\ntime_zone = \"Europe/Berln\"\n\
         [[locations]]\nname = \"room\"\ntime_zone = \"CEST\"\n\
         [[schedules]]\nname = \"s\"\ntime_zone = \"Mars/Base\"\nhours = {}\n",
    );
    assert_eq!(
        p,
        [
            "test.toml:2:13: key `places.time_zone`: `Europe/Berln` is not a time zone; use an IANA name such as `Europe/Berlin` or `UTC`",
            "test.toml:5:13: key `locations.time_zone`: `CEST` is not a time zone; use an IANA name such as `Europe/Berlin` or `UTC`",
            "test.toml:8:13: key `schedules.time_zone`: `Mars/Base` is not a time zone; use an IANA name such as `Europe/Berlin` or `UTC`",
        ]
    );
}

#[test]
fn hours_that_end_before_they_start_or_overlap_are_located_at_the_range() {
    let p = problems(
        "[[locations]]\nname = \"room\"\n[locations.hours]\nmon = [\"09:00-18:00\", \"18:00-09:00\"]\n\
         tue = [\"09:00-12:00\",\n  \"11:00-13:00\"]\nwed = [\"9-17\"]\nfri = [\"00:00-24:00\"]\n\
         [[schedules]]\nname = \"s\"\nhours = { sun = [\"12:00-12:00\"] }\n",
    );
    assert_eq!(
        p,
        [
            "test.toml:4:23: key `locations.hours.mon`: `18:00-09:00` does not end after it starts; a range lies within one day (for a night write `22:00-24:00` on one day and `00:00-06:00` on the next)",
            "test.toml:6:3: key `locations.hours.tue`: `11:00-13:00` overlaps `09:00-12:00` on tue",
            "test.toml:7:8: key `locations.hours.wed`: `9-17` is not a time range; write `HH:MM-HH:MM` within one day, such as `09:00-18:00` or `00:00-24:00`",
            "test.toml:11:18: key `schedules.hours.sun`: `12:00-12:00` does not end after it starts; a range lies within one day (for a night write `22:00-24:00` on one day and `00:00-06:00` on the next)",
        ]
    );
    let p =
        problems("[[locations]]\nname = \"room\"\n[locations.hours]\nmonday = [\"09:00-18:00\"]\n");
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("test.toml:4:1: key `locations.hours.monday`: unknown field `monday`, expected one of `mon`, `tue`"),
        "{}",
        p[0]
    );
}

#[test]
fn bad_dates_durations_seats_tiers_and_names_are_located() {
    let p = problems(
        "[places]\nunregistered = \"guest\"\nmax_sessions_per_principal = 0\n\
         [[locations]]\nname = \"room\"\nseats = 0\nidle_timeout = \"soon\"\n\
         closed = [\"2026-02-30\", \"24.12.2026\", 2026-12-24T10:00:00, \"2026-12-24\"]\n\
         [[locations]]\nname = \"hall\"\nidle_timeout = \"0s\"\n\
         [[locations]]\nname = \"reading room\"\nidle_timeout = \"-5m\"\n\
         [[schedules]]\nname = \"no-hours\"\n",
    );
    assert_eq!(
        p,
        [
            "test.toml:2:16: key `places.unregistered`: `guest` is neither `refuse` nor a tier (`open`, `filtered`, `intranet`, `none`)",
            "test.toml:3:30: key `places.max_sessions_per_principal`: expected a whole number, 1 or more, not `0`",
            "test.toml:8:11: key `locations.closed`: `2026-02-30` is not a date; write `YYYY-MM-DD`, such as `2026-12-24`",
            "test.toml:8:25: key `locations.closed`: `24.12.2026` is not a date; write `YYYY-MM-DD`, such as `2026-12-24`",
            "test.toml:8:39: key `locations.closed`: `2026-12-24T10:00:00` is not a date; write `YYYY-MM-DD`, such as `2026-12-24`",
            "test.toml:7:16: key `locations.idle_timeout`: `soon` is not a duration of more than 0; write it as `90s`, `15m`, `2h` or `1h 30m`",
            "test.toml:11:16: key `locations.idle_timeout`: `0s` is not a duration of more than 0; write it as `90s`, `15m`, `2h` or `1h 30m`",
            "test.toml:13:8: key `locations.name`: `reading room` is not a name; use up to 64 letters, digits, `-`, `_` and `.`, starting with a letter or digit",
            "test.toml:14:16: key `locations.idle_timeout`: `-5m` is not a duration of more than 0; write it as `90s`, `15m`, `2h` or `1h 30m`",
            "test.toml:16:8: key `schedules.hours`: a schedule needs `hours`, such as `hours = { mon = [\"08:00-12:00\"] }`",
            "test.toml:6:9: key `locations.seats`: location `room` has 0 seats; leave `seats` out for no limit",
        ]
    );
    let p = problems("[[locations]]\nname = \"room\"\nseats = -1\n");
    assert_eq!(
        p,
        ["test.toml:3:9: key `locations.seats`: invalid value: integer `-1`, expected a whole number from 0 to 4294967295"]
    );
}

#[test]
fn duplicate_names_and_terminals_without_addresses_are_refused() {
    let p = problems(
        "[[locations]]\nname = \"room\"\n[[locations]]\nname = \"room\"\n\
         [[terminals]]\nname = \"t\"\nlocation = \"room\"\n\
         [[terminals]]\nname = \"t\"\nlocation = \"room\"\naddresses = [\"127.0.0.11\"]\n\
         [[schedules]]\nname = \"s\"\nhours = {}\n[[schedules]]\nname = \"s\"\nhours = {}\n",
    );
    assert_eq!(
        p,
        [
            "test.toml:4:8: key `locations.name`: location `room` is defined twice",
            "test.toml:9:8: key `terminals.name`: terminal `t` is defined twice",
            "test.toml:16:8: key `schedules.name`: schedule `s` is defined twice",
            "test.toml:6:8: key `terminals.addresses`: terminal `t` has no address; list its addresses or networks in `addresses`",
        ]
    );
}

#[test]
fn check_config_summarises_the_places() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gatehouse.toml");
    std::fs::write(&file, GOOD).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "{}: ok (0 domains in 0 categories)\n  places: 2 locations (5 seats), 2 terminals, 1 schedule; unregistered addresses: tier `filtered` at most\n",
            file.display()
        )
    );
    std::fs::write(
        &file,
        "[[locations]]\nname = \"room\"\n[[terminals]]\nname = \"a\"\nlocation = \"room\"\naddresses = [\"127.0.0.11\"]\n\
         [[terminals]]\nname = \"b\"\nlocation = \"room\"\naddresses = [\"127.0.0.0/24\"]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "{}:10:14: key `terminals.addresses`: `127.0.0.0/24` of terminal `b` overlaps `127.0.0.11/32` of terminal `a`; an address belongs to one terminal at most\n",
            file.display()
        )
    );
}

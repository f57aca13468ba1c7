//! Unit tests of `Places`: validation, terminal lookup, and opening hours against a brute-force
//! reference that evaluates every minute (including the weeks when Europe/Berlin changes clocks).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use jiff::civil::{date, Weekday};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn location(name: &str, tz: &str, hours: Option<WeeklyHours>, closed: Vec<Date>) -> Location {
    Location {
        name: name.into(),
        description: String::new(),
        time_zone: time_zone(tz).unwrap(),
        hours,
        closed,
        seats: None,
        idle_timeout: DEFAULT_IDLE_TIMEOUT,
    }
}

fn terminal(name: &str, location: usize, nets: &[&str]) -> Terminal {
    Terminal {
        name: name.into(),
        location: LocationId(location),
        networks: nets
            .iter()
            .map(|n| destination::net::parse_net(n).unwrap())
            .collect(),
    }
}

fn build(locations: Vec<Location>, terminals: Vec<Terminal>) -> Result<Places, Vec<PlaceError>> {
    Places::build(
        locations,
        terminals,
        Vec::new(),
        Unregistered::Allow,
        TimeZone::UTC,
        1,
    )
}

fn weekdays_9_to_18() -> WeeklyHours {
    let day: &[&str] = &["09:00-18:00"];
    WeeklyHours::parse(&[
        (Weekday::Monday, day),
        (Weekday::Tuesday, day),
        (Weekday::Wednesday, day),
        (Weekday::Thursday, day),
        (Weekday::Friday, day),
        (Weekday::Saturday, &["10:00-14:00"]),
    ])
    .unwrap()
}

#[test]
fn time_zones_come_from_the_built_in_database() {
    assert_eq!(
        time_zone("europe/berlin").unwrap().iana_name(),
        Some("Europe/Berlin")
    );
    assert_eq!(time_zone("UTC").unwrap(), TimeZone::UTC);
    assert_eq!(
        time_zone("Mars/Olympus_Mons").unwrap_err().to_string(),
        "`Mars/Olympus_Mons` is not a time zone; use an IANA name such as `Europe/Berlin` or `UTC`"
    );
    assert!(time_zone("").is_err());
}

#[test]
fn default_places_have_no_terminals_and_allow_unregistered_addresses_in_utc() {
    let p = Places::default();
    assert!(p.is_empty());
    assert!(p.terminal_of("127.0.0.1".parse().unwrap()).is_none());
    assert_eq!(p.unregistered(), &Unregistered::Allow);
    assert_eq!(p.max_sessions_per_principal(), 1);
    let local = p.unnamed_local(ts("2026-12-07T23:30:00Z"));
    assert_eq!(local.weekday, Weekday::Monday);
    assert_eq!(local.minute_of_day, 23 * 60 + 30);
    assert_eq!(local.date, date(2026, 12, 7));
    assert!(p.active_schedules(ts("2026-12-07T10:00:00Z")).is_empty());
}

#[test]
fn terminals_are_found_by_address_and_name() {
    let p = build(
        vec![
            location("reading-room", "UTC", None, vec![]),
            location("office", "UTC", None, vec![]),
        ],
        vec![
            terminal("rr-01", 0, &["127.0.0.11"]),
            terminal("rr-02", 0, &["127.0.0.16/30", "fd00::16/127"]),
            terminal("desk", 1, &["10.1.0.0/16"]),
        ],
    )
    .unwrap();
    let at = |ip: &str| {
        p.terminal_of(ip.parse().unwrap())
            .map(|(t, l)| (t.name.to_string(), l.name.to_string()))
    };
    assert_eq!(
        at("127.0.0.11"),
        Some(("rr-01".into(), "reading-room".into()))
    );
    assert_eq!(
        at("127.0.0.19"),
        Some(("rr-02".into(), "reading-room".into()))
    );
    assert_eq!(
        at("::ffff:127.0.0.18"),
        Some(("rr-02".into(), "reading-room".into()))
    );
    assert_eq!(
        at("fd00::17"),
        Some(("rr-02".into(), "reading-room".into()))
    );
    assert_eq!(at("10.1.255.1"), Some(("desk".into(), "office".into())));
    assert_eq!(at("127.0.0.12"), None);
    assert_eq!(at("127.0.0.1"), None);
    assert_eq!(
        p.terminal_by_name("desk").unwrap().1.name.as_ref(),
        "office"
    );
    assert_eq!(p.location_by_name("office").unwrap().0, LocationId(1));
    assert!(p.terminal_by_name("nope").is_none());
}

#[test]
fn place_at_gives_terminal_location_opening_and_local_time_in_one_call() {
    let p = Places::build(
        vec![location(
            "room",
            "Europe/Berlin",
            Some(weekdays_9_to_18()),
            vec![],
        )],
        vec![terminal("rr-01", 0, &["127.0.0.11"])],
        vec![],
        Unregistered::Refuse,
        time_zone("America/New_York").unwrap(),
        1,
    )
    .unwrap();
    // Monday 2026-12-07 08:30 UTC: 09:30 in Berlin (open), 03:30 in New York.
    let now = ts("2026-12-07T08:30:00Z");
    let at = p.place_at("127.0.0.11".parse().unwrap(), now);
    assert_eq!(at.terminal.map(|t| &*t.name), Some("rr-01"));
    assert_eq!(at.location.map(|l| &*l.name), Some("room"));
    assert!(at.open);
    assert_eq!(at.local.minute_of_day, 9 * 60 + 30);
    let closed = p.place_at(
        "::ffff:127.0.0.11".parse().unwrap(),
        ts("2026-12-07T17:00:00Z"),
    );
    assert!(!closed.open && closed.terminal.is_some());
    let elsewhere = p.place_at("127.0.0.12".parse().unwrap(), now);
    assert!(elsewhere.terminal.is_none() && elsewhere.location.is_none() && elsewhere.open);
    assert_eq!(elsewhere.local.minute_of_day, 3 * 60 + 30);
}

#[test]
fn five_hundred_terminals_are_each_found_and_nothing_else_is() {
    let terminals: Vec<Terminal> = (0..500)
        .map(|i| {
            terminal(
                &format!("t{i}"),
                i % 50,
                &[&format!("10.{}.{}.0/29", i / 100, i % 100)],
            )
        })
        .collect();
    let locations = (0..50)
        .map(|i| location(&format!("room-{i}"), "UTC", None, vec![]))
        .collect();
    let p = build(locations, terminals).unwrap();
    for i in 0..500 {
        for host in 0..8 {
            let ip = format!("10.{}.{}.{host}", i / 100, i % 100)
                .parse()
                .unwrap();
            let (t, l) = p.terminal_of(ip).unwrap();
            assert_eq!(&*t.name, format!("t{i}"));
            assert_eq!(&*l.name, format!("room-{}", i % 50));
        }
        let outside = format!("10.{}.{}.8", i / 100, i % 100).parse().unwrap();
        assert!(p.terminal_of(outside).is_none());
    }
}

#[test]
fn every_problem_is_reported_naming_what_it_is_about() {
    let mut full = location("room", "UTC", None, vec![]);
    full.seats = Some(0);
    let errors = build(
        vec![full, location("room", "UTC", None, vec![])],
        vec![
            terminal("a", 0, &["127.0.0.16/30"]),
            terminal("b", 1, &["10.0.0.0/8", "127.0.0.17"]),
            terminal("a", 0, &["192.0.2.1", "192.0.2.1"]),
            terminal("lost", 7, &[]),
        ],
    )
    .unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "location `room` is defined twice",
            "terminal `a` is defined twice",
            "location `room` has 0 seats; leave `seats` out for no limit",
            "terminal `lost` is in location number 8 of 2, which does not exist",
            "terminal `lost` has no address",
            "`127.0.0.17/32` of terminal `b` overlaps `127.0.0.16/30` of terminal `a`; an address belongs to one terminal at most",
            "`192.0.2.1/32` of terminal `a` overlaps `192.0.2.1/32` of terminal `a`; an address belongs to one terminal at most",
        ]
    );
    let PlaceError::OverlappingNetworks { first, second } = &errors[5] else {
        panic!("{:?}", errors[5]);
    };
    assert_eq!((first.terminal_index, first.network_index), (0, 0));
    assert_eq!((second.terminal_index, second.network_index), (1, 1));
    let PlaceError::OverlappingNetworks { first, second } = &errors[6] else {
        panic!("{:?}", errors[6]);
    };
    assert_eq!((first.terminal_index, first.network_index), (2, 0));
    assert_eq!((second.terminal_index, second.network_index), (2, 1));
}

#[test]
fn hours_closed_dates_and_the_next_change() {
    let room = location(
        "room",
        "UTC",
        Some(weekdays_9_to_18()),
        vec![date(2026, 12, 24), date(2026, 12, 25)],
    );
    // Monday 2026-12-07, 10:00: open until 18:00.
    let s = room.state_at(ts("2026-12-07T10:00:00Z"));
    assert!(s.open);
    assert_eq!(s.closes_at, Some(ts("2026-12-07T18:00:00Z")));
    assert_eq!(s.opens_at, None);
    assert_eq!(s.local.weekday, Weekday::Monday);
    assert_eq!(s.local.minute_of_day, 600);
    // 17:59:59 is open, 18:00:00 is not.
    assert!(room.is_open_at(ts("2026-12-07T17:59:59Z")));
    let s = room.state_at(ts("2026-12-07T18:00:00Z"));
    assert!(!s.open);
    assert_eq!(s.opens_at, Some(ts("2026-12-08T09:00:00Z")));
    assert_eq!(s.closes_at, None);
    // Saturday evening: Sunday is closed, Monday opens.
    let s = room.state_at(ts("2026-12-12T15:00:00Z"));
    assert_eq!(s.opens_at, Some(ts("2026-12-14T09:00:00Z")));
    // Thursday 24 and Friday 25 December are closed dates; Saturday 26 opens at 10:00.
    let s = room.state_at(ts("2026-12-23T20:00:00Z"));
    assert_eq!(s.opens_at, Some(ts("2026-12-26T10:00:00Z")));
    assert!(!room.is_open_at(ts("2026-12-24T12:00:00Z")));
}

#[test]
fn always_open_places_close_only_on_their_closed_dates() {
    let always = location("hall", "UTC", None, vec![]);
    let s = always.state_at(ts("2026-12-07T10:00:00Z"));
    assert!(s.open && s.closes_at.is_none() && s.opens_at.is_none());
    let holiday = location("hall", "Europe/Berlin", None, vec![date(2026, 12, 24)]);
    let s = holiday.state_at(ts("2026-12-20T10:00:00Z"));
    assert_eq!(
        s.closes_at,
        Some(ts("2026-12-23T23:00:00Z")),
        "local midnight"
    );
    let s = holiday.state_at(ts("2026-12-24T10:00:00Z"));
    assert!(!s.open);
    assert_eq!(s.opens_at, Some(ts("2026-12-24T23:00:00Z")));
    // A closed date more than 14 days ahead is not looked for.
    assert_eq!(holiday.state_at(ts("2026-11-01T10:00:00Z")).closes_at, None);
    // Open all day every day: ranges that touch across midnight are one open period.
    let round = location(
        "round",
        "UTC",
        Some(WeeklyHours::always()),
        vec![date(2027, 1, 1)],
    );
    let s = round.state_at(ts("2026-12-30T10:00:00Z"));
    assert_eq!(s.closes_at, Some(ts("2027-01-01T00:00:00Z")));
    // Never open: no next opening.
    let never = location("never", "UTC", Some(WeeklyHours::new()), vec![]);
    let s = never.state_at(ts("2026-12-30T10:00:00Z"));
    assert!(!s.open && s.opens_at.is_none() && s.closes_at.is_none());
}

#[test]
fn ranges_follow_the_wall_clock_when_berlin_springs_forward() {
    // Sunday 2026-03-29: at 02:00 CET (01:00 UTC) the clocks go to 03:00 CEST.
    let hours = |r: &[&str]| WeeklyHours::parse(&[(Weekday::Sunday, r)]).unwrap();
    let room = location(
        "room",
        "Europe/Berlin",
        Some(hours(&["01:00-04:00"])),
        vec![],
    );
    let s = room.state_at(ts("2026-03-28T23:30:00Z"));
    assert!(!s.open);
    assert_eq!(s.opens_at, Some(ts("2026-03-29T00:00:00Z")), "01:00 CET");
    let s = room.state_at(ts("2026-03-29T00:00:00Z"));
    assert!(s.open);
    assert_eq!(
        s.closes_at,
        Some(ts("2026-03-29T02:00:00Z")),
        "04:00 CEST: two real hours"
    );
    // A range starting in the skipped hour opens when the clocks jump past its start.
    let late = location(
        "late",
        "Europe/Berlin",
        Some(hours(&["02:30-05:00"])),
        vec![],
    );
    let s = late.state_at(ts("2026-03-29T00:30:00Z"));
    assert!(!s.open);
    assert_eq!(s.opens_at, Some(ts("2026-03-29T01:00:00Z")), "03:00 CEST");
    assert!(late.is_open_at(ts("2026-03-29T01:00:00Z")));
    assert_eq!(
        late.state_at(ts("2026-03-29T01:00:00Z")).closes_at,
        Some(ts("2026-03-29T03:00:00Z"))
    );
    // A range inside the skipped hour never happens that day: next week it does.
    let skipped = location(
        "skipped",
        "Europe/Berlin",
        Some(hours(&["02:00-02:30"])),
        vec![],
    );
    let s = skipped.state_at(ts("2026-03-28T12:00:00Z"));
    assert_eq!(
        s.opens_at,
        Some(ts("2026-04-05T00:00:00Z")),
        "02:00 CEST a week later"
    );
}

#[test]
fn repeated_wall_clock_times_are_open_twice_when_berlin_falls_back() {
    // Sunday 2026-10-25: at 03:00 CEST (01:00 UTC) the clocks go back to 02:00 CET.
    let hours = WeeklyHours::parse(&[(Weekday::Sunday, &["02:00-02:30"])]).unwrap();
    let room = location("room", "Europe/Berlin", Some(hours), vec![]);
    let s = room.state_at(ts("2026-10-24T23:00:00Z"));
    assert_eq!(s.opens_at, Some(ts("2026-10-25T00:00:00Z")), "02:00 CEST");
    let s = room.state_at(ts("2026-10-25T00:10:00Z"));
    assert!(s.open);
    assert_eq!(s.closes_at, Some(ts("2026-10-25T00:30:00Z")));
    let s = room.state_at(ts("2026-10-25T00:40:00Z"));
    assert!(!s.open);
    assert_eq!(s.opens_at, Some(ts("2026-10-25T01:00:00Z")), "02:00 CET");
    assert_eq!(
        room.state_at(ts("2026-10-25T01:00:00Z")).closes_at,
        Some(ts("2026-10-25T01:30:00Z"))
    );
}

/// Every minute of three weeks evaluated one by one; the next change of each minute found by a
/// backward pass. `state_at` must agree for every minute of the first week.
fn agrees_with_brute_force(cal: Calendar<'_>, start: &str) {
    let start = ts(start);
    let minutes = 22 * 24 * 60;
    let at = |i: i64| start.checked_add(jiff::Span::new().minutes(i)).unwrap();
    let open: Vec<bool> = (0..minutes)
        .map(|i| {
            let dt = cal.time_zone.to_datetime(at(i));
            let local = LocalTime::of(dt);
            !cal.closed.contains(&local.date)
                && cal.hours.is_none_or(|h| {
                    h.day(local.weekday)
                        .iter()
                        .any(|r| r.start() <= local.minute_of_day && local.minute_of_day < r.end())
                })
        })
        .collect();
    let mut next_change = vec![None; open.len()];
    for i in (0..open.len() - 1).rev() {
        next_change[i] = if open[i + 1] != open[i] {
            Some(i + 1)
        } else {
            next_change[i + 1]
        };
    }
    for i in 0..7 * 24 * 60 {
        let now = at(i as i64);
        let s = cal.state_at(now);
        assert_eq!(s.open, open[i], "open at {now}");
        assert_eq!(s.local, LocalTime::of(cal.time_zone.to_datetime(now)));
        let expected = next_change[i].map(|j| at(j as i64));
        // The search looks at least 14 days ahead: any change the brute force finds within the
        // 15 days after this week's minutes is within reach.
        let (closes, opens) = if open[i] {
            (expected, None)
        } else {
            (None, expected)
        };
        assert_eq!((s.closes_at, s.opens_at), (closes, opens), "at {now}");
    }
}

#[test]
fn every_minute_of_a_week_agrees_with_brute_force() {
    let hours = WeeklyHours::parse(&[
        (
            Weekday::Monday,
            &["00:00-08:00", "09:00-12:00", "12:00-18:30"],
        ),
        (Weekday::Tuesday, &["07:15-07:16"]),
        (Weekday::Wednesday, &["00:00-24:00"]),
        (Weekday::Thursday, &["00:00-24:00"]),
        (Weekday::Friday, &["02:00-03:00", "22:00-24:00"]),
        (Weekday::Sunday, &["01:00-04:00", "23:59-24:00"]),
    ])
    .unwrap();
    let closed = [date(2026, 3, 26), date(2026, 12, 9)];
    for (tz, start) in [
        ("UTC", "2026-12-07T00:00:00Z"),
        ("Europe/Berlin", "2026-12-06T21:17:00Z"),
        // The weeks in which Berlin springs forward and falls back.
        ("Europe/Berlin", "2026-03-24T00:00:00Z"),
        ("Europe/Berlin", "2026-10-20T00:00:00Z"),
        // Australia/Lord_Howe changes by half an hour; America/St_Johns sits at -03:30.
        ("Australia/Lord_Howe", "2026-04-01T00:00:00Z"),
        ("America/St_Johns", "2026-03-05T00:00:00Z"),
    ] {
        let time_zone = time_zone(tz).unwrap();
        let cal = Calendar {
            time_zone: &time_zone,
            hours: Some(&hours),
            closed: &closed,
        };
        agrees_with_brute_force(cal, start);
    }
}

fn schedule(name: &str, tz: &str, hours: WeeklyHours) -> Schedule {
    Schedule {
        name: name.into(),
        time_zone: time_zone(tz).unwrap(),
        hours,
        closed: vec![date(2026, 12, 8)],
    }
}

#[test]
fn active_schedules_are_sorted_and_follow_their_own_zones() {
    let mornings = WeeklyHours::parse(&[
        (Weekday::Monday, &["08:00-12:00"]),
        (Weekday::Tuesday, &["08:00-12:00"]),
    ])
    .unwrap();
    let p = Places::build(
        vec![],
        vec![],
        vec![
            schedule("z-exams", "Europe/Berlin", mornings.clone()),
            schedule("a-mornings", "UTC", mornings),
            schedule("never", "UTC", WeeklyHours::new()),
        ],
        Unregistered::Refuse,
        time_zone("Asia/Tokyo").unwrap(),
        2,
    )
    .unwrap();
    let names = |s: &str| -> Vec<String> {
        p.active_schedules(ts(s))
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    // Monday 07:30 UTC is 08:30 in Berlin.
    assert_eq!(names("2026-12-07T07:30:00Z"), ["z-exams"]);
    assert_eq!(names("2026-12-07T10:00:00Z"), ["a-mornings", "z-exams"]);
    assert_eq!(names("2026-12-07T11:30:00Z"), ["a-mornings"]);
    // Tuesday 8 December is a closed date of both.
    assert!(names("2026-12-08T10:00:00Z").is_empty());
    assert_eq!(p.schedules()[0].name.as_ref(), "a-mornings");
    let s = p.schedules()[2].state_at(ts("2026-12-07T07:30:00Z"));
    assert_eq!(s.closes_at, Some(ts("2026-12-07T11:00:00Z")));
    assert_eq!(
        p.unnamed_local(ts("2026-12-07T23:30:00Z")).weekday,
        Weekday::Tuesday
    );
    assert_eq!(p.unregistered(), &Unregistered::Refuse);
    assert_eq!(p.max_sessions_per_principal(), 2);
    let dup = Places::build(
        vec![],
        vec![],
        vec![
            schedule("x", "UTC", WeeklyHours::new()),
            schedule("x", "UTC", WeeklyHours::new()),
        ],
        Unregistered::Allow,
        TimeZone::UTC,
        1,
    )
    .unwrap_err();
    assert_eq!(dup[0].to_string(), "schedule `x` is defined twice");
}

//! The dashboard's charts as geometry for inline SVG: the template (`dashboard.html`) draws the
//! shapes computed here, so the server sends finished pictures and the page needs no script or
//! chart library. A leaf: it imports nothing from the portal.
//!
//! Every chart carries a title and a description that states its numbers in words (the SVG is
//! `role="img"`, so a screen reader reads those); each bar has a `<title>` with its exact value,
//! and the page shows the same numbers in a table. Coordinates are in the SVG's `viewBox` units;
//! the picture scales to the width of the screen.

/// The width of a column chart's `viewBox`.
pub(crate) const WIDTH: u32 = 480;
/// The width of a bar chart's `viewBox`: narrower, so that its names stay legible on a phone (the
/// style sheet caps its width on a wide screen).
pub(crate) const BARS_WIDTH: u32 = 320;
/// The height of a column chart's plot area (the hour labels go below it).
const PLOT: u32 = 100;

/// A column chart: one column per hour, oldest first.
pub(crate) struct Columns {
    pub id: String,
    pub title: String,
    pub desc: String,
    pub columns: Vec<Column>,
    /// Hour labels under some columns.
    pub ticks: Vec<(u32, String)>,
    /// The largest value, as text (the top of the scale).
    pub max: String,
}

pub(crate) struct Column {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// The column's hour and value, in words.
    pub label: String,
}

/// A bar chart: one labelled horizontal bar per item, largest first.
pub(crate) struct Bars {
    pub id: String,
    pub title: String,
    pub desc: String,
    /// The `viewBox`'s width and height.
    pub width: u32,
    pub height: u32,
    pub bars: Vec<Bar>,
}

pub(crate) struct Bar {
    /// The top of the item's row; its name is written above the bar.
    pub y: u32,
    pub width: u32,
    pub name: String,
    pub value: String,
}

/// `HH:00` of the hour starting at `us` (UTC).
pub(crate) fn hour_text(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.strftime("%H:00").to_string())
        .unwrap_or_default()
}

/// A count as people write it: `1,234,567`.
pub(crate) fn count_text(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A size in bytes with a decimal unit: `532 B`, `1.2 MB`.
pub(crate) fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// The length of `value` on a scale where `max` is `full` long; at least 1 for a value above 0.
fn scaled(value: u64, max: u64, full: u32) -> u32 {
    if value == 0 || max == 0 {
        return 0;
    }
    let len = (u128::from(value) * u128::from(full) / u128::from(max)) as u32;
    len.max(1)
}

/// A column chart of `values`, one per hour from the hour starting at `since_us`, written with
/// `text` (a count or a size).
pub(crate) fn columns(
    id: &str,
    title: &str,
    values: &[u64],
    since_us: i64,
    text: fn(u64) -> String,
) -> Columns {
    let max = values.iter().copied().max().unwrap_or(0);
    let step = WIDTH / values.len().max(1) as u32;
    let hour = |i: usize| since_us + i as i64 * crate::dashboard::BUCKET_US;
    let columns = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let height = scaled(*v, max, PLOT);
            Column {
                x: i as u32 * step + 1,
                y: PLOT - height,
                width: step.saturating_sub(2).max(1),
                height,
                label: format!("{}: {}", hour_text(hour(i)), text(*v)),
            }
        })
        .collect();
    let ticks = (0..values.len())
        .step_by(6)
        .map(|i| (i as u32 * step + 1, hour_text(hour(i))))
        .collect();
    let total: u64 = values.iter().fold(0, |a, b| a.saturating_add(*b));
    Columns {
        id: id.to_string(),
        title: title.to_string(),
        desc: format!(
            "{} hourly columns from {} (UTC): {} in all, {} in the busiest hour",
            values.len(),
            hour_text(since_us),
            text(total),
            text(max)
        ),
        columns,
        ticks,
        max: text(max),
    }
}

/// A bar chart of `items` (name, value), in the order given.
pub(crate) fn bars(id: &str, title: &str, items: &[(String, u64)]) -> Bars {
    const ROW: u32 = 36;
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let bars = items
        .iter()
        .enumerate()
        .map(|(i, (name, n))| Bar {
            y: i as u32 * ROW,
            // Room to the right of the longest bar for its number.
            width: scaled(*n, max, BARS_WIDTH - 80),
            name: name.clone(),
            value: count_text(*n),
        })
        .collect();
    let listed: Vec<String> = items
        .iter()
        .map(|(name, n)| format!("{name} {}", count_text(*n)))
        .collect();
    Bars {
        id: id.to_string(),
        title: title.to_string(),
        desc: if listed.is_empty() {
            "none".to_string()
        } else {
            listed.join("; ")
        },
        width: BARS_WIDTH,
        height: (items.len() as u32 * ROW).max(ROW),
        bars,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(count_text(0), "0");
        assert_eq!(count_text(999), "999");
        assert_eq!(count_text(1_234_567), "1,234,567");
        assert_eq!(bytes_text(532), "532 B");
        assert_eq!(bytes_text(1_250_000), "1.2 MB");
        assert_eq!(bytes_text(3_000_000_000), "3.0 GB");
    }

    #[test]
    fn columns_scale_to_the_busiest_hour_and_say_so() {
        let c = columns("t", "Requests", &[0, 5, 10, 1], 0, count_text);
        let heights: Vec<u32> = c.columns.iter().map(|c| c.height).collect();
        assert_eq!(heights, [0, 50, 100, 10]);
        assert_eq!(c.columns[2].y, 0);
        assert_eq!(c.columns[1].label, "01:00: 5");
        assert_eq!(c.max, "10");
        assert!(
            c.desc.contains("16 in all, 10 in the busiest hour"),
            "{}",
            c.desc
        );
        let b = bars("r", "Refusals", &[("deny-ads".into(), 4), ("x".into(), 1)]);
        assert_eq!((b.bars[0].width, b.bars[1].width), (240, 60));
        assert_eq!(b.desc, "deny-ads 4; x 1");
    }
}

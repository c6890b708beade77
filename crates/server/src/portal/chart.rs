//! Line charts of measurements over time as SVG, rendered on the server with plotters
//! (no scripts, no inline styles: the CSP allows neither). Every chart comes with a table
//! of the same values on its page, for screen readers and for exact numbers.

use plotters::prelude::*;
use time::Date;

/// One line: a label and its dated values.
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (date, value), any order.
    pub points: Vec<(Date, f64)>,
}

/// What to draw.
pub struct ChartSpec<'a> {
    /// Accessible title (the SVG's `<title>`), e.g. "Glucose (mmol/L)".
    pub title: &'a str,
    /// Unit for the y axis.
    pub unit: &'a str,
    /// The lines (up to 4 are distinguishable).
    pub series: &'a [Series],
    /// A reference range drawn as a band (low, high).
    pub range: Option<(f64, f64)>,
}

const COLOURS: [RGBColor; 4] = [
    RGBColor(11, 92, 138),
    RGBColor(164, 14, 38),
    RGBColor(29, 107, 47),
    RGBColor(138, 75, 0),
];

fn day(d: Date) -> f64 {
    f64::from(d.to_julian_day())
}

fn date_label(x: f64) -> String {
    // Axis labels come from our own day numbers; out-of-range values just show nothing.
    let jd = x.round();
    if !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&jd) {
        return String::new();
    }
    #[allow(clippy::cast_possible_truncation)]
    Date::from_julian_day(jd as i32)
        .map(|d| format!("{:02}-{:02}-{}", d.day(), u8::from(d.month()), d.year()))
        .unwrap_or_default()
}

/// The chart as an `<svg>` element, or `None` when there are fewer than two points.
pub fn line_chart(spec: &ChartSpec<'_>) -> Option<String> {
    let all: Vec<(f64, f64)> = spec
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|(d, v)| (day(*d), *v)))
        .filter(|(_, v)| v.is_finite())
        .collect();
    if all.len() < 2 {
        return None;
    }
    let (mut x0, mut x1) = (f64::MAX, f64::MIN);
    let (mut y0, mut y1) = (f64::MAX, f64::MIN);
    for (x, y) in &all {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if let Some((lo, hi)) = spec.range {
        y0 = y0.min(lo);
        y1 = y1.max(hi);
    }
    if (x1 - x0).abs() < 1.0 {
        x0 -= 1.0;
        x1 += 1.0;
    }
    let pad = ((y1 - y0).abs() * 0.1).max(0.5);
    let (y0, y1) = (y0 - pad, y1 + pad);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 300)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1)
            .ok()?;
        chart
            .configure_mesh()
            .x_labels(5)
            .y_labels(6)
            .x_label_formatter(&|x| date_label(*x))
            .y_desc(spec.unit)
            .light_line_style(RGBColor(233, 238, 242))
            .draw()
            .ok()?;
        if let Some((lo, hi)) = spec.range {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, lo), (x1, hi)],
                    RGBColor(29, 107, 47).mix(0.12).filled(),
                )))
                .ok()?;
        }
        for (i, s) in spec.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let mut points: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|(d, v)| (day(*d), *v))
                .filter(|(_, v)| v.is_finite())
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .ok()?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, colour.filled())),
                )
                .ok()?;
        }
        if spec.series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.9))
                .border_style(RGBColor(201, 211, 220))
                .draw()
                .ok()?;
        }
        root.present().ok()?;
    }
    // An accessible name for the picture: role and title right after the opening tag.
    let title = crate::auth::escape_html(spec.title);
    Some(svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{title}\" "),
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_chart_is_an_svg_with_a_title_and_no_inline_style() {
        let series = [Series {
            label: "Glucose".into(),
            points: vec![(date!(2026 - 01 - 01), 5.1), (date!(2026 - 03 - 01), 7.4)],
        }];
        let svg = line_chart(&ChartSpec {
            title: "Glucose <mmol/L>",
            unit: "mmol/L",
            series: &series,
            range: Some((4.0, 7.8)),
        })
        .expect("two points make a chart");
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"Glucose &lt;mmol/L&gt;\""));
        assert!(svg.contains("<polyline") || svg.contains("<path"));
        assert!(!svg.contains("style="), "the CSP forbids inline styles");
    }

    #[test]
    fn one_point_is_no_chart() {
        let series = [Series {
            label: "x".into(),
            points: vec![(date!(2026 - 01 - 01), 1.0)],
        }];
        assert!(line_chart(&ChartSpec {
            title: "x",
            unit: "",
            series: &series,
            range: None
        })
        .is_none());
    }
}

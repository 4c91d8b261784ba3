//! Dashboards: charts over query results, drawn two ways from one
//! [`ChartData`]: as a Vega-Lite specification for clients that draw
//! interactively ([`vega`]), and as SVG for exports ([`svg`]), composed on
//! a grid into one page ([`layout`]) and written as PNG or PDF ([`export`]),
//! fetched through signed, expiring links ([`download`]).
//!
//! Architecture invariant: this module knows neither HTTP nor GraphQL; it
//! turns rows into drawings and files, and signs the links they are fetched by. Every text it
//! draws (titles, column names, cells) is untrusted and escaped; renders
//! use only the bundled DejaVu Sans, so they match on every machine.

pub mod chart;
pub mod download;
pub mod export;
mod fonts;
pub mod layout;
pub mod svg;
pub mod vega;

pub use chart::{ChartData, ChartError, ChartType, Encoding, MAX_CHART_ROWS, number};
pub use export::{ExportFormat, export};
pub use layout::{Grid, LayoutError, MAX_CHARTS, Placement, compose};
pub use svg::{RenderError, Size, chart_svg};
pub use vega::vega_lite;

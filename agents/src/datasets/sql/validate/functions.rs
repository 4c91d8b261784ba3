//! The functions a statement may call: aggregates, window functions and
//! common scalar, date and string functions, each on the engines that have
//! it. Everything else is refused: file and network access (`pg_read_file`,
//! `lo_import`, `dblink`, `load_extension`), sleeping (`pg_sleep`), settings
//! (`current_setting`, `set_config`), catalog and session introspection
//! (`version`, `current_user`, `sqlite_version`), set-returning functions
//! (`generate_series`) and allocators a query could make huge
//! (`repeat`, `lpad`, `rpad`, `randomblob`, `zeroblob`, `printf`, `format`).

use super::Engine;

/// How a function may be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `f(x, …)`.
    Scalar,
    /// `current_date`: without parentheses too.
    Niladic,
    /// `sum(x)`: `DISTINCT`, `FILTER`, `ORDER BY` inside, `OVER`.
    Aggregate,
    /// `percentile_cont(0.5) WITHIN GROUP (ORDER BY x)`.
    OrderedSet,
    /// `rank() OVER (…)`: only with `OVER`.
    Window,
}

impl Kind {
    /// Whether it aggregates rows.
    pub(crate) fn aggregates(self) -> bool {
        matches!(self, Kind::Aggregate | Kind::OrderedSet)
    }
}

/// Which engines have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum On {
    Both,
    Postgres,
    Sqlite,
}

/// One allowed function.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Allowed {
    /// Lower-case name.
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) on: On,
}

const fn f(name: &'static str, kind: Kind, on: On) -> Allowed {
    Allowed { name, kind, on }
}

use Kind::{Aggregate, Niladic, OrderedSet, Scalar, Window};
use On::{Both, Postgres, Sqlite};

/// The allow-list.
pub(crate) const ALLOWED: &[Allowed] = &[
    // Aggregates.
    f("count", Aggregate, Both),
    f("sum", Aggregate, Both),
    f("avg", Aggregate, Both),
    f("min", Aggregate, Both),
    f("max", Aggregate, Both),
    f("total", Aggregate, Sqlite),
    f("group_concat", Aggregate, Sqlite),
    f("string_agg", Aggregate, Both),
    f("stddev", Aggregate, Postgres),
    f("stddev_samp", Aggregate, Postgres),
    f("stddev_pop", Aggregate, Postgres),
    f("variance", Aggregate, Postgres),
    f("var_samp", Aggregate, Postgres),
    f("var_pop", Aggregate, Postgres),
    f("bool_and", Aggregate, Postgres),
    f("bool_or", Aggregate, Postgres),
    f("every", Aggregate, Postgres),
    f("corr", Aggregate, Postgres),
    f("covar_pop", Aggregate, Postgres),
    f("covar_samp", Aggregate, Postgres),
    f("regr_slope", Aggregate, Postgres),
    f("regr_intercept", Aggregate, Postgres),
    f("regr_r2", Aggregate, Postgres),
    f("percentile_cont", OrderedSet, Postgres),
    f("percentile_disc", OrderedSet, Postgres),
    f("mode", OrderedSet, Postgres),
    // Window functions.
    f("row_number", Window, Both),
    f("rank", Window, Both),
    f("dense_rank", Window, Both),
    f("percent_rank", Window, Both),
    f("cume_dist", Window, Both),
    f("ntile", Window, Both),
    f("lag", Window, Both),
    f("lead", Window, Both),
    f("first_value", Window, Both),
    f("last_value", Window, Both),
    f("nth_value", Window, Both),
    // Numbers.
    f("abs", Scalar, Both),
    f("round", Scalar, Both),
    f("ceil", Scalar, Both),
    f("ceiling", Scalar, Both),
    f("floor", Scalar, Both),
    f("trunc", Scalar, Both),
    f("sign", Scalar, Both),
    f("sqrt", Scalar, Both),
    f("power", Scalar, Both),
    f("pow", Scalar, Both),
    f("exp", Scalar, Both),
    f("ln", Scalar, Both),
    f("log", Scalar, Both),
    f("log10", Scalar, Both),
    f("mod", Scalar, Both),
    f("greatest", Scalar, Postgres),
    f("least", Scalar, Postgres),
    f("to_number", Scalar, Postgres),
    // Nulls and conditions.
    f("coalesce", Scalar, Both),
    f("nullif", Scalar, Both),
    f("ifnull", Scalar, Sqlite),
    f("iif", Scalar, Sqlite),
    // Text.
    f("lower", Scalar, Both),
    f("upper", Scalar, Both),
    f("length", Scalar, Both),
    f("char_length", Scalar, Postgres),
    f("character_length", Scalar, Postgres),
    f("octet_length", Scalar, Both),
    f("trim", Scalar, Both),
    f("ltrim", Scalar, Both),
    f("rtrim", Scalar, Both),
    f("btrim", Scalar, Postgres),
    f("replace", Scalar, Both),
    f("substr", Scalar, Both),
    f("substring", Scalar, Both),
    f("instr", Scalar, Sqlite),
    f("strpos", Scalar, Postgres),
    f("concat", Scalar, Both),
    f("concat_ws", Scalar, Both),
    f("left", Scalar, Postgres),
    f("right", Scalar, Postgres),
    f("initcap", Scalar, Postgres),
    f("reverse", Scalar, Postgres),
    f("split_part", Scalar, Postgres),
    f("starts_with", Scalar, Postgres),
    f("typeof", Scalar, Sqlite),
    // Dates and times.
    f("current_date", Niladic, Both),
    f("current_time", Niladic, Both),
    f("current_timestamp", Niladic, Both),
    f("localtimestamp", Niladic, Postgres),
    f("now", Scalar, Postgres),
    f("date_trunc", Scalar, Postgres),
    f("date_part", Scalar, Postgres),
    f("to_char", Scalar, Postgres),
    f("to_date", Scalar, Postgres),
    f("to_timestamp", Scalar, Postgres),
    f("make_date", Scalar, Postgres),
    f("age", Scalar, Postgres),
    f("date", Scalar, Sqlite),
    f("time", Scalar, Sqlite),
    f("datetime", Scalar, Sqlite),
    f("julianday", Scalar, Sqlite),
    f("strftime", Scalar, Sqlite),
    f("unixepoch", Scalar, Sqlite),
];

/// What the allow-list says of a name on an engine.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lookup {
    /// Allowed here.
    Allowed(Allowed),
    /// Allowed, but on the other engine only.
    OtherEngine,
    /// Not allowed anywhere.
    Denied,
}

/// Looks `name` (lower case) up for `engine`.
pub(crate) fn lookup(name: &str, engine: Engine) -> Lookup {
    let Some(found) = ALLOWED.iter().find(|a| a.name == name) else { return Lookup::Denied };
    let here = match (found.on, engine) {
        (On::Both, _) | (On::Postgres, Engine::Postgres) | (On::Sqlite, Engine::Sqlite) => true,
        (On::Postgres, Engine::Sqlite) | (On::Sqlite, Engine::Postgres) => false,
    };
    if here { Lookup::Allowed(*found) } else { Lookup::OtherEngine }
}

/// The names callable on `engine`, for a model's prompt.
pub fn allowed_names(engine: Engine) -> Vec<&'static str> {
    ALLOWED.iter().filter(|a| matches!(lookup(a.name, engine), Lookup::Allowed(_))).map(|a| a.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_listed_once_in_lower_case() {
        for (i, a) in ALLOWED.iter().enumerate() {
            assert_eq!(a.name, a.name.to_ascii_lowercase());
            assert!(ALLOWED[i + 1..].iter().all(|b| b.name != a.name), "{} listed twice", a.name);
        }
    }

    #[test]
    fn engines_see_their_own_functions() {
        assert!(matches!(lookup("strftime", Engine::Sqlite), Lookup::Allowed(_)));
        assert!(matches!(lookup("strftime", Engine::Postgres), Lookup::OtherEngine));
        assert!(matches!(lookup("date_trunc", Engine::Postgres), Lookup::Allowed(_)));
        assert!(matches!(lookup("pg_sleep", Engine::Postgres), Lookup::Denied));
        assert!(allowed_names(Engine::Sqlite).contains(&"sum"));
        assert!(!allowed_names(Engine::Sqlite).contains(&"to_char"));
    }
}

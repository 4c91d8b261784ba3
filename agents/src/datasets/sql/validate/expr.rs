//! Expressions, function calls, literals and casts: each variant the walker
//! allows is listed here; every other one is refused.

use sqlparser::ast::{
    BinaryOperator, CastKind, CeilFloorKind, DataType, DateTimeField, DuplicateTreatment, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArgumentClause, FunctionArgumentList, FunctionArguments, Ident, ObjectNamePart,
    UnaryOperator, Value, WindowType,
};

use super::functions::{self, Kind, Lookup};
use super::walk::Walker;
use super::{Engine, Refusal, Rule, refuse, snippet};

/// SQL's niladic functions PostgreSQL reads from a bare, unquoted word.
const PG_NILADIC: &[&str] =
    &["current_user", "current_role", "session_user", "user", "current_schema", "current_catalog", "system_user"];

impl Walker<'_> {
    pub(super) fn expr(&mut self, e: &mut Expr) -> Result<(), Refusal> {
        self.enter()?;
        self.expr_inner(e)?;
        self.leave();
        Ok(())
    }

    fn exprs(&mut self, list: &mut [Expr]) -> Result<(), Refusal> {
        list.iter_mut().try_for_each(|e| self.expr(e))
    }

    fn expr_inner(&mut self, e: &mut Expr) -> Result<(), Refusal> {
        let postgres = self.engine == Engine::Postgres;
        match e {
            Expr::Identifier(ident) => self.column(ident),
            Expr::CompoundIdentifier(parts) if parts.len() <= 2 => Ok(()),
            Expr::CompoundIdentifier(parts) => {
                let name = parts.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(".");
                Err(refuse(Rule::Construct, format!("`{name}` names more than a table and a column")))
            }
            Expr::IsFalse(x)
            | Expr::IsNotFalse(x)
            | Expr::IsTrue(x)
            | Expr::IsNotTrue(x)
            | Expr::IsNull(x)
            | Expr::IsNotNull(x)
            | Expr::IsUnknown(x)
            | Expr::IsNotUnknown(x)
            | Expr::Nested(x) => self.expr(x),
            Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
                self.expr(a)?;
                self.expr(b)
            }
            Expr::InList { expr, list, .. } => {
                self.expr(expr)?;
                self.exprs(list)
            }
            Expr::InSubquery { expr, subquery, .. } => {
                self.expr(expr)?;
                self.query(subquery, None)
            }
            Expr::Between { expr, low, high, .. } => {
                self.expr(expr)?;
                self.expr(low)?;
                self.expr(high)
            }
            Expr::BinaryOp { left, op, right } => {
                operator(op, postgres)?;
                self.expr(left)?;
                self.expr(right)
            }
            Expr::Like { any, expr, pattern, escape_char, .. }
            | Expr::ILike { any, expr, pattern, escape_char, .. } => {
                if *any {
                    return Err(refuse(Rule::Construct, "LIKE ANY is not supported"));
                }
                if let Some(escape) = escape_char {
                    literal(&escape.value)?;
                }
                self.expr(expr)?;
                self.expr(pattern)
            }
            Expr::SimilarTo { expr, pattern, escape_char, .. } if postgres => {
                if let Some(escape) = escape_char {
                    literal(&escape.value)?;
                }
                self.expr(expr)?;
                self.expr(pattern)
            }
            Expr::UnaryOp { op, expr } => {
                if !matches!(op, UnaryOperator::Plus | UnaryOperator::Minus | UnaryOperator::Not) {
                    return Err(refuse(Rule::Construct, format!("the operator `{op}` is not supported")));
                }
                self.expr(expr)
            }
            Expr::Cast { kind, expr, data_type, array, format } => {
                let plain = matches!(kind, CastKind::Cast) || (postgres && matches!(kind, CastKind::DoubleColon));
                if !plain || *array || format.is_some() {
                    let detail = "only CAST(x AS type) (and x::type on PostgreSQL) is supported";
                    return Err(refuse(Rule::Construct, detail));
                }
                self.data_type(data_type)?;
                self.expr(expr)
            }
            Expr::AtTimeZone { timestamp, time_zone } if postgres => {
                self.expr(timestamp)?;
                self.expr(time_zone)
            }
            Expr::Extract { expr, .. } => self.expr(expr),
            Expr::Ceil { expr, field } | Expr::Floor { expr, field } => {
                if !matches!(field, CeilFloorKind::DateTimeField(DateTimeField::NoDateTime)) {
                    return Err(refuse(Rule::Construct, "CEIL/FLOOR take one number"));
                }
                self.expr(expr)
            }
            Expr::Position { expr, r#in } => {
                self.expr(expr)?;
                self.expr(r#in)
            }
            Expr::Substring { expr, substring_from, substring_for, .. } => {
                self.expr(expr)?;
                for part in [substring_from, substring_for].into_iter().flatten() {
                    self.expr(part)?;
                }
                Ok(())
            }
            Expr::Trim { expr, trim_what, trim_characters, .. } => {
                if let Some(characters) = trim_characters {
                    if self.engine != Engine::Sqlite {
                        return Err(refuse(Rule::Construct, "TRIM(x, characters) is SQLite's; use TRIM(… FROM x)"));
                    }
                    self.exprs(characters)?;
                }
                self.expr(expr)?;
                match trim_what {
                    Some(what) => self.expr(what),
                    None => Ok(()),
                }
            }
            Expr::Value(v) => literal(&v.value),
            Expr::TypedString(typed) if postgres && !typed.uses_odbc_syntax => {
                self.data_type(&typed.data_type)?;
                match &typed.value.value {
                    Value::SingleQuotedString(_) => Ok(()),
                    other => Err(refuse(Rule::Literal, format!("`{other}` is not a plain '…' string"))),
                }
            }
            Expr::Function(function) => self.function(function),
            Expr::Case { operand, conditions, else_result, .. } => {
                if let Some(operand) = operand {
                    self.expr(operand)?;
                }
                for when in conditions {
                    self.expr(&mut when.condition)?;
                    self.expr(&mut when.result)?;
                }
                match else_result {
                    Some(e) => self.expr(e),
                    None => Ok(()),
                }
            }
            Expr::Exists { subquery, .. } | Expr::Subquery(subquery) => self.query(subquery, None),
            Expr::Tuple(items) => self.exprs(items),
            Expr::Interval(interval) if postgres => self.expr(&mut interval.value),
            other => Err(refuse(Rule::Construct, format!("`{}` is not supported", snippet(&*other)))),
        }
    }

    /// A bare column name; on PostgreSQL a bare `user` or `current_role`
    /// would be a function of the session, not a column.
    fn column(&self, ident: &Ident) -> Result<(), Refusal> {
        if self.engine == Engine::Postgres
            && ident.quote_style.is_none()
            && PG_NILADIC.contains(&ident.value.to_ascii_lowercase().as_str())
        {
            return Err(refuse(
                Rule::Function,
                format!("`{}` is a session function, not allowed; quote a column of that name", ident.value),
            ));
        }
        Ok(())
    }

    fn function(&mut self, function: &mut Function) -> Result<(), Refusal> {
        let Function { name, uses_odbc_syntax, parameters, args, filter, null_treatment, over, within_group } =
            function;
        let ident = match name.0.as_slice() {
            [ObjectNamePart::Identifier(ident)] => ident,
            _ => {
                let detail = format!("qualified function names such as `{name}` are not allowed");
                return Err(refuse(Rule::Function, detail));
            }
        };
        if ident.quote_style.is_some() {
            return Err(refuse(Rule::Function, format!("quoted function names such as `{ident}` are not allowed")));
        }
        let lower = ident.value.to_ascii_lowercase();
        let allowed = match functions::lookup(&lower, self.engine) {
            Lookup::Allowed(allowed) => allowed,
            Lookup::OtherEngine => {
                let detail = format!("function `{lower}` is not available on {}", self.engine.name());
                return Err(refuse(Rule::Function, detail));
            }
            Lookup::Denied => return Err(refuse(Rule::Function, format!("function `{lower}` is not allowed"))),
        };
        let kind = allowed.kind;
        if *uses_odbc_syntax || !matches!(parameters, FunctionArguments::None) || null_treatment.is_some() {
            return Err(refuse(Rule::Construct, format!("`{lower}` is called in an unsupported form")));
        }
        match args {
            FunctionArguments::None if kind == Kind::Niladic => {}
            FunctionArguments::None => {
                return Err(refuse(Rule::Construct, format!("`{lower}` needs its arguments in parentheses")));
            }
            FunctionArguments::Subquery(_) => {
                return Err(refuse(Rule::Construct, format!("`{lower}(SELECT …)` is not supported")));
            }
            FunctionArguments::List(list) => self.arguments(&lower, kind, list)?,
        }
        if let Some(filter) = filter {
            if !kind.aggregates() {
                return Err(refuse(Rule::Construct, format!("FILTER applies to aggregates, not `{lower}`")));
            }
            self.expr(filter)?;
        }
        match over {
            Some(WindowType::WindowSpec(spec)) if kind == Kind::Aggregate || kind == Kind::Window => {
                self.window_spec(spec)?;
            }
            Some(WindowType::NamedWindow(_)) if kind == Kind::Aggregate || kind == Kind::Window => {}
            Some(_) => return Err(refuse(Rule::Construct, format!("`{lower}` takes no OVER clause"))),
            None if kind == Kind::Window => {
                return Err(refuse(Rule::Construct, format!("`{lower}` needs an OVER (…) clause")));
            }
            None => {}
        }
        match (kind == Kind::OrderedSet, within_group.is_empty()) {
            (true, true) => Err(refuse(Rule::Construct, format!("`{lower}` needs WITHIN GROUP (ORDER BY …)"))),
            (false, false) => Err(refuse(Rule::Construct, format!("`{lower}` takes no WITHIN GROUP"))),
            _ => within_group.iter_mut().try_for_each(|o| self.order_by_expr(o)),
        }
    }

    fn arguments(&mut self, name: &str, kind: Kind, list: &mut FunctionArgumentList) -> Result<(), Refusal> {
        let FunctionArgumentList { duplicate_treatment, args, clauses } = list;
        if matches!(duplicate_treatment, Some(DuplicateTreatment::Distinct)) && !kind.aggregates() {
            return Err(refuse(Rule::Construct, format!("DISTINCT applies to aggregates, not `{name}`")));
        }
        for arg in args {
            match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => self.expr(e)?,
                FunctionArg::Unnamed(FunctionArgExpr::Wildcard) if name == "count" => {}
                other => {
                    let detail = format!("the argument `{}` of `{name}` is not supported", snippet(&*other));
                    return Err(refuse(Rule::Construct, detail));
                }
            }
        }
        for clause in clauses {
            match clause {
                FunctionArgumentClause::OrderBy(order) if kind.aggregates() => {
                    order.iter_mut().try_for_each(|o| self.order_by_expr(o))?;
                }
                other => {
                    let detail = format!("`{}` inside `{name}(…)` is not supported", snippet(&*other));
                    return Err(refuse(Rule::Construct, detail));
                }
            }
        }
        Ok(())
    }

    fn data_type(&self, data_type: &DataType) -> Result<(), Refusal> {
        let plain = matches!(
            data_type,
            DataType::Character(_)
                | DataType::Char(_)
                | DataType::CharacterVarying(_)
                | DataType::CharVarying(_)
                | DataType::Varchar(_)
                | DataType::Text
                | DataType::Numeric(_)
                | DataType::Decimal(_)
                | DataType::Dec(_)
                | DataType::Float(_)
                | DataType::Real
                | DataType::Double(_)
                | DataType::DoublePrecision
                | DataType::Float4
                | DataType::Float8
                | DataType::SmallInt(_)
                | DataType::Int(_)
                | DataType::Integer(_)
                | DataType::BigInt(_)
                | DataType::Int2(_)
                | DataType::Int4(_)
                | DataType::Int8(_)
                | DataType::Bool
                | DataType::Boolean
                | DataType::Date
                | DataType::Time(..)
                | DataType::Timestamp(..)
        ) || (self.engine == Engine::Postgres && matches!(data_type, DataType::Interval { .. }));
        if plain { Ok(()) } else { Err(refuse(Rule::Type, format!("casts to `{data_type}` are not allowed"))) }
    }
}

fn operator(op: &BinaryOperator, postgres: bool) -> Result<(), Refusal> {
    use BinaryOperator as B;
    let everywhere = matches!(
        op,
        B::Plus
            | B::Minus
            | B::Multiply
            | B::Divide
            | B::Modulo
            | B::StringConcat
            | B::Gt
            | B::Lt
            | B::GtEq
            | B::LtEq
            | B::Eq
            | B::NotEq
            | B::And
            | B::Or
    );
    let regex = matches!(op, B::PGRegexMatch | B::PGRegexIMatch | B::PGRegexNotMatch | B::PGRegexNotIMatch);
    if everywhere || (postgres && regex) {
        Ok(())
    } else {
        Err(refuse(Rule::Construct, format!("the operator `{op}` is not supported")))
    }
}

/// Plain literals only: no dollar-quoted, escaped, Unicode, national, byte
/// or hex strings, no parameters.
fn literal(value: &Value) -> Result<(), Refusal> {
    match value {
        Value::Number(..) | Value::SingleQuotedString(_) | Value::Boolean(_) | Value::Null => Ok(()),
        Value::Placeholder(p) => Err(refuse(Rule::Literal, format!("parameters such as `{p}` are not supported"))),
        other => Err(refuse(
            Rule::Literal,
            format!("only plain '…' strings, numbers, TRUE/FALSE and NULL are allowed, not `{}`", snippet(other)),
        )),
    }
}

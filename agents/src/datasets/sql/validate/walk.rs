//! The walk over a parsed query: every clause, table and expression
//! checked against the rules, the dataset's table rewritten to its
//! physical name, the outermost `LIMIT` set to the row cap.

use sqlparser::ast::{
    Expr, Fetch, GroupByExpr, Ident, Join, JoinConstraint, JoinOperator, LimitClause, NamedWindowExpr, ObjectName,
    ObjectNamePart, Offset, OffsetRows, OrderBy, OrderByExpr, OrderByKind, Query, Select, SelectFlavor, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, SetOperator, SetQuantifier, TableAlias, TableFactor, TableWithJoins,
    Value, WildcardAdditionalOptions, WindowFrameBound, WindowSpec,
};

use super::{Engine, Refusal, Rule, is_system, refuse, snippet};

/// Deepest nesting of queries and expressions the walker follows.
const MAX_DEPTH: usize = 200;

/// The tree walk: checks every node, rewrites the dataset's table.
pub(super) struct Walker<'a> {
    pub(super) engine: Engine,
    pub(super) dataset_name: &'a str,
    pub(super) physical: ObjectName,
    pub(super) depth: usize,
    /// The common table expressions in scope, as the engine folds names.
    pub(super) ctes: Vec<String>,
}

impl Walker<'_> {
    pub(super) fn enter(&mut self) -> Result<(), Refusal> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(refuse(Rule::TooComplex, format!("the statement nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    pub(super) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// A name as the engine compares it: PostgreSQL folds unquoted names to
    /// lower case and keeps quoted ones; SQLite ignores ASCII case in both.
    fn fold(&self, ident: &Ident) -> String {
        match (self.engine, ident.quote_style) {
            (Engine::Postgres, Some(_)) => ident.value.clone(),
            _ => ident.value.to_ascii_lowercase(),
        }
    }

    fn names_dataset(&self, ident: &Ident) -> bool {
        ident.value.eq_ignore_ascii_case("data") || ident.value.eq_ignore_ascii_case(self.dataset_name.trim())
    }

    /// `row_cap` is set for the outermost query only.
    pub(super) fn query(&mut self, query: &mut Query, row_cap: Option<usize>) -> Result<(), Refusal> {
        self.enter()?;
        let Query {
            with,
            body,
            order_by,
            limit_clause,
            fetch,
            locks,
            for_clause,
            settings,
            format_clause,
            pipe_operators,
        } = query;
        if !locks.is_empty() {
            return Err(refuse(Rule::Locking, "FOR UPDATE / FOR SHARE locks are not allowed"));
        }
        if for_clause.is_some() || settings.is_some() || format_clause.is_some() || !pipe_operators.is_empty() {
            return Err(refuse(Rule::Construct, "FOR XML/JSON, SETTINGS, FORMAT and pipe operators are not supported"));
        }
        let outer = self.ctes.len();
        if let Some(with) = with {
            if with.recursive {
                return Err(refuse(Rule::Recursive, "WITH RECURSIVE is not allowed"));
            }
            for cte in &mut with.cte_tables {
                let name = &cte.alias.name;
                let folded = self.fold(name);
                if self.names_dataset(name) || is_system(&name.value.to_ascii_lowercase()) {
                    return Err(refuse(
                        Rule::CteName,
                        format!("a common table expression may not be named `{}`", name.value),
                    ));
                }
                if cte.from.is_some() || cte.alias.columns.iter().any(|c| c.data_type.is_some()) {
                    return Err(refuse(Rule::Construct, format!("`{}` is not a plain common table expression", name)));
                }
                // Only the expressions before it are in scope (no recursion).
                self.query(&mut cte.query, None)?;
                self.ctes.push(folded);
            }
        }
        self.set_expr(body)?;
        if let Some(order_by) = order_by {
            self.order_by(order_by)?;
        }
        match row_cap {
            Some(cap) => self.cap(limit_clause, fetch, cap)?,
            None => self.inner_limit(limit_clause, fetch)?,
        }
        self.ctes.truncate(outer);
        self.leave();
        Ok(())
    }

    fn set_expr(&mut self, body: &mut SetExpr) -> Result<(), Refusal> {
        self.enter()?;
        match body {
            SetExpr::Select(select) => self.select(select)?,
            SetExpr::Query(query) => self.query(query, None)?,
            SetExpr::SetOperation { left, op, set_quantifier, right } => {
                if matches!(op, SetOperator::Minus)
                    || !matches!(set_quantifier, SetQuantifier::All | SetQuantifier::Distinct | SetQuantifier::None)
                {
                    return Err(refuse(Rule::Construct, format!("`{op} {set_quantifier}` is not supported")));
                }
                self.set_expr(left)?;
                self.set_expr(right)?;
            }
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
                return Err(refuse(
                    Rule::DataModifying,
                    "statements that change data are not allowed, in WITH neither",
                ));
            }
            SetExpr::Values(_) => return Err(refuse(Rule::Construct, "a VALUES list is not supported; use SELECT")),
            SetExpr::Table(_) => {
                return Err(refuse(Rule::Construct, "TABLE … is not supported; use SELECT * FROM data"));
            }
        }
        self.leave();
        Ok(())
    }

    fn select(&mut self, select: &mut Select) -> Result<(), Refusal> {
        let Select {
            select_token: _,
            optimizer_hints,
            distinct,
            select_modifiers,
            top,
            top_before_distinct: _,
            projection,
            exclude,
            into,
            from,
            lateral_views,
            prewhere,
            selection,
            connect_by,
            group_by,
            cluster_by,
            distribute_by,
            sort_by,
            having,
            named_window,
            qualify,
            window_before_qualify: _,
            value_table_mode,
            flavor,
        } = select;
        if into.is_some() {
            return Err(refuse(Rule::Into, "SELECT … INTO writes a table; it is not allowed"));
        }
        if !optimizer_hints.is_empty()
            || select_modifiers.is_some()
            || top.is_some()
            || exclude.is_some()
            || !lateral_views.is_empty()
            || prewhere.is_some()
            || !connect_by.is_empty()
            || !cluster_by.is_empty()
            || !distribute_by.is_empty()
            || !sort_by.is_empty()
            || qualify.is_some()
            || value_table_mode.is_some()
            || !matches!(flavor, SelectFlavor::Standard)
        {
            return Err(refuse(Rule::Construct, "this SELECT uses a clause of another SQL dialect"));
        }
        match distinct {
            Some(sqlparser::ast::Distinct::On(exprs)) => {
                if self.engine != Engine::Postgres {
                    return Err(refuse(Rule::Construct, "DISTINCT ON is PostgreSQL only"));
                }
                for e in exprs {
                    self.expr(e)?;
                }
            }
            None | Some(sqlparser::ast::Distinct::Distinct | sqlparser::ast::Distinct::All) => {}
        }
        for item in projection {
            self.select_item(item)?;
        }
        for table in from {
            self.table_with_joins(table)?;
        }
        if let Some(e) = selection {
            self.expr(e)?;
        }
        match group_by {
            GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => {
                for e in exprs {
                    self.expr(e)?;
                }
            }
            _ => return Err(refuse(Rule::Construct, "GROUP BY ALL and GROUP BY modifiers are not supported")),
        }
        if let Some(e) = having {
            self.expr(e)?;
        }
        for definition in named_window {
            if let NamedWindowExpr::WindowSpec(spec) = &mut definition.1 {
                self.window_spec(spec)?;
            }
        }
        Ok(())
    }

    fn select_item(&mut self, item: &mut SelectItem) -> Result<(), Refusal> {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => self.expr(e),
            SelectItem::Wildcard(options) => wildcard_options(options),
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(name), options)
                if name.0.len() == 1 =>
            {
                wildcard_options(options)
            }
            other => Err(refuse(Rule::Construct, format!("`{}` is not supported", snippet(&*other)))),
        }
    }

    fn table_with_joins(&mut self, table: &mut TableWithJoins) -> Result<(), Refusal> {
        self.table_factor(&mut table.relation)?;
        for join in &mut table.joins {
            self.join(join)?;
        }
        Ok(())
    }

    fn join(&mut self, join: &mut Join) -> Result<(), Refusal> {
        if join.global {
            return Err(refuse(Rule::Construct, "GLOBAL joins are not supported"));
        }
        self.table_factor(&mut join.relation)?;
        let constraint = match &mut join.join_operator {
            JoinOperator::Join(c)
            | JoinOperator::Inner(c)
            | JoinOperator::Left(c)
            | JoinOperator::LeftOuter(c)
            | JoinOperator::Right(c)
            | JoinOperator::RightOuter(c)
            | JoinOperator::FullOuter(c)
            | JoinOperator::CrossJoin(c) => c,
            _ => return Err(refuse(Rule::Construct, "only [INNER|LEFT|RIGHT|FULL|CROSS] JOIN is supported")),
        };
        match constraint {
            JoinConstraint::On(e) => self.expr(e),
            JoinConstraint::Using(columns) if columns.iter().all(|c| c.0.len() == 1) => Ok(()),
            JoinConstraint::Using(_) => Err(refuse(Rule::Construct, "USING takes plain column names")),
            JoinConstraint::Natural | JoinConstraint::None => Ok(()),
        }
    }

    fn table_factor(&mut self, factor: &mut TableFactor) -> Result<(), Refusal> {
        self.enter()?;
        match factor {
            TableFactor::Table {
                name,
                alias,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_hints,
            } => {
                if args.is_some() {
                    let detail = format!("table functions such as `{name}(…)` are not allowed");
                    return Err(refuse(Rule::TableFunction, detail));
                }
                if !with_hints.is_empty()
                    || version.is_some()
                    || *with_ordinality
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || sample.is_some()
                    || !index_hints.is_empty()
                {
                    return Err(refuse(Rule::Construct, format!("table modifiers on `{name}` are not supported")));
                }
                check_alias(alias.as_ref())?;
                self.table_name(name, alias)?;
            }
            TableFactor::Derived { lateral, subquery, alias, sample } => {
                if *lateral || sample.is_some() {
                    return Err(refuse(Rule::Construct, "LATERAL subqueries and TABLESAMPLE are not supported"));
                }
                check_alias(alias.as_ref())?;
                self.query(subquery, None)?;
            }
            TableFactor::NestedJoin { table_with_joins, alias } => {
                check_alias(alias.as_ref())?;
                self.table_with_joins(table_with_joins)?;
            }
            TableFactor::Function { name, .. } => {
                return Err(refuse(Rule::TableFunction, format!("table functions such as `{name}` are not allowed")));
            }
            TableFactor::TableFunction { .. }
            | TableFactor::UNNEST { .. }
            | TableFactor::JsonTable { .. }
            | TableFactor::OpenJsonTable { .. }
            | TableFactor::XmlTable { .. } => {
                return Err(refuse(Rule::TableFunction, "table functions are not allowed in FROM"));
            }
            other => return Err(refuse(Rule::Construct, format!("`{}` is not supported", snippet(&*other)))),
        }
        self.leave();
        Ok(())
    }

    /// The dataset's table (rewritten), a common table expression in
    /// scope, or a refusal naming what it is.
    fn table_name(&self, name: &mut ObjectName, alias: &mut Option<TableAlias>) -> Result<(), Refusal> {
        let single = match name.0.as_slice() {
            [ObjectNamePart::Identifier(ident)] => Some(ident.clone()),
            _ => None,
        };
        if let Some(ident) = single {
            if self.names_dataset(&ident) {
                let spelled_as_physical = match self.physical.0.as_slice() {
                    [ObjectNamePart::Identifier(p)] => p.value.eq_ignore_ascii_case(&ident.value),
                    _ => false,
                };
                *name = self.physical.clone();
                // Columns qualified as `data.x` (or `"Spend".x`) still resolve.
                if alias.is_none() && !spelled_as_physical {
                    *alias = Some(TableAlias { explicit: true, name: ident, columns: Vec::new(), at: None });
                }
                return Ok(());
            }
            if self.ctes.contains(&self.fold(&ident)) {
                return Ok(());
            }
            if is_system(&ident.value.to_ascii_lowercase()) {
                return Err(refuse(Rule::SystemCatalog, format!("system catalogs such as `{name}` cannot be queried")));
            }
            return Err(refuse(
                Rule::OtherTable,
                format!("only the dataset's table `data` may be queried, not `{name}`"),
            ));
        }
        let parts: Vec<String> = name
            .0
            .iter()
            .map(|part| match part {
                ObjectNamePart::Identifier(ident) => ident.value.to_ascii_lowercase(),
                ObjectNamePart::Function(_) => String::new(),
            })
            .collect();
        if parts.iter().any(|p| is_system(p)) {
            return Err(refuse(Rule::SystemCatalog, format!("system catalogs such as `{name}` cannot be queried")));
        }
        if parts.first().is_some_and(|schema| schema == "alatar_datasets") {
            return Err(refuse(
                Rule::OtherTable,
                format!("`{name}` is dataset storage, not this dataset; query it as `data`"),
            ));
        }
        Err(refuse(Rule::OtherTable, format!("only the dataset's table `data` may be queried, not `{name}`")))
    }

    fn order_by(&mut self, order_by: &mut OrderBy) -> Result<(), Refusal> {
        if order_by.interpolate.is_some() {
            return Err(refuse(Rule::Construct, "ORDER BY … INTERPOLATE is not supported"));
        }
        match &mut order_by.kind {
            OrderByKind::Expressions(exprs) => {
                for e in exprs {
                    self.order_by_expr(e)?;
                }
                Ok(())
            }
            OrderByKind::All(_) => Err(refuse(Rule::Construct, "ORDER BY ALL is not supported")),
        }
    }

    pub(super) fn order_by_expr(&mut self, e: &mut OrderByExpr) -> Result<(), Refusal> {
        if e.with_fill.is_some() {
            return Err(refuse(Rule::Construct, "ORDER BY … WITH FILL is not supported"));
        }
        self.expr(&mut e.expr)
    }

    pub(super) fn window_spec(&mut self, spec: &mut WindowSpec) -> Result<(), Refusal> {
        for e in &mut spec.partition_by {
            self.expr(e)?;
        }
        for e in &mut spec.order_by {
            self.order_by_expr(e)?;
        }
        if let Some(frame) = &mut spec.window_frame {
            for bound in std::iter::once(&mut frame.start_bound).chain(frame.end_bound.as_mut()) {
                if let WindowFrameBound::Preceding(Some(e)) | WindowFrameBound::Following(Some(e)) = bound {
                    self.expr(e)?;
                }
            }
        }
        Ok(())
    }

    /// Subqueries keep their own `LIMIT`s (checked like any expression).
    fn inner_limit(&mut self, limit: &mut Option<LimitClause>, fetch: &mut Option<Fetch>) -> Result<(), Refusal> {
        match limit {
            Some(LimitClause::LimitOffset { limit, offset, limit_by }) => {
                if !limit_by.is_empty() {
                    return Err(refuse(Rule::Construct, "LIMIT … BY is not supported"));
                }
                if let Some(e) = limit {
                    self.expr(e)?;
                }
                if let Some(offset) = offset {
                    self.expr(&mut offset.value)?;
                }
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                self.expr(offset)?;
                self.expr(limit)?;
            }
            None => {}
        }
        if let Some(fetch) = fetch {
            if fetch.percent {
                return Err(refuse(Rule::Limit, "FETCH … PERCENT is not supported"));
            }
            if let Some(e) = &mut fetch.quantity {
                self.expr(e)?;
            }
        }
        Ok(())
    }

    /// The outermost `LIMIT`: the statement's own (a whole number) or the
    /// cap plus one, whichever is smaller; `FETCH FIRST n` becomes `LIMIT n`.
    fn cap(&mut self, limit: &mut Option<LimitClause>, fetch: &mut Option<Fetch>, cap: usize) -> Result<(), Refusal> {
        let (mut asked, offset) = match limit.take() {
            None => (None, None),
            Some(LimitClause::LimitOffset { limit, offset, limit_by }) => {
                if !limit_by.is_empty() {
                    return Err(refuse(Rule::Construct, "LIMIT … BY is not supported"));
                }
                (limit, offset)
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                (Some(limit), Some(Offset { value: offset, rows: OffsetRows::None }))
            }
        };
        if let Some(f) = fetch.take() {
            if f.with_ties || f.percent {
                return Err(refuse(Rule::Limit, "FETCH … WITH TIES / PERCENT is not supported"));
            }
            if asked.is_some() {
                return Err(refuse(Rule::Limit, "use LIMIT or FETCH, not both"));
            }
            asked = Some(f.quantity.unwrap_or_else(|| Expr::value(Value::Number("1".into(), false))));
        }
        let asked = asked.as_ref().map(whole_number).transpose()?;
        if let Some(offset) = &offset {
            whole_number(&offset.value)?;
        }
        let ceiling = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
        let rows = asked.map_or(ceiling, |n| n.min(ceiling));
        *limit = Some(LimitClause::LimitOffset {
            limit: Some(Expr::value(Value::Number(rows.to_string(), false))),
            offset,
            limit_by: Vec::new(),
        });
        Ok(())
    }
}

fn whole_number(e: &Expr) -> Result<u64, Refusal> {
    if let Expr::Value(v) = e
        && let Value::Number(digits, _) = &v.value
        && let Ok(n) = digits.parse::<u64>()
    {
        return Ok(n);
    }
    Err(refuse(Rule::Limit, format!("LIMIT and OFFSET must be whole numbers, not `{}`", snippet(e))))
}

fn check_alias(alias: Option<&TableAlias>) -> Result<(), Refusal> {
    match alias {
        Some(alias) if alias.at.is_some() || alias.columns.iter().any(|c| c.data_type.is_some()) => {
            Err(refuse(Rule::Construct, format!("the alias `{}` declares types; that is not supported", alias.name)))
        }
        _ => Ok(()),
    }
}

fn wildcard_options(options: &WildcardAdditionalOptions) -> Result<(), Refusal> {
    let WildcardAdditionalOptions {
        wildcard_token: _,
        opt_ilike,
        opt_exclude,
        opt_except,
        opt_replace,
        opt_rename,
        opt_alias,
    } = options;
    if opt_ilike.is_some()
        || opt_exclude.is_some()
        || opt_except.is_some()
        || opt_replace.is_some()
        || opt_rename.is_some()
        || opt_alias.is_some()
    {
        return Err(refuse(Rule::Construct, "`*` takes no ILIKE/EXCLUDE/EXCEPT/REPLACE/RENAME options"));
    }
    Ok(())
}

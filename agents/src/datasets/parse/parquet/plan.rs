//! A Parquet schema as the dataset's columns: which field becomes which
//! column, of which type, read how (see the table in [`super`]).
//!
//! The record reader (`parquet::record`) turns a leaf's values into
//! `Field`s by its physical and converted type and, for a combination it
//! does not know, panics (`unimplemented!`). Every leaf is therefore
//! checked here against exactly the combinations it knows before a row is
//! read, so such a file is refused with the column's name instead.

use ::parquet::basic::{ConvertedType, LogicalType, Repetition, TimeUnit, Type as Physical};
use ::parquet::schema::types::{SchemaDescriptor, Type};

use crate::datasets::column::ColumnType;
use crate::datasets::parse::MAX_COLUMNS;

/// How a column's values become cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Read {
    /// As the record reader gives them.
    Value,
    /// `INT64` nanoseconds since the epoch (the reader gives the bare number).
    TimestampNanos,
    /// `INT64` nanoseconds since midnight (likewise).
    TimeNanos,
    /// Sixteen bytes written as a UUID.
    Uuid,
    /// A list, a map or a repeated field: its JSON text.
    Json,
}

/// One column of the dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PlannedColumn {
    /// Its name: the field's, under its structs' names with dots.
    pub name: String,
    /// Its type, from the field's.
    pub kind: ColumnType,
    /// How its values are read.
    pub read: Read,
}

/// Where a field's values go: a column, or (a struct) its members'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Node {
    /// The column at this index.
    Column(usize),
    /// A struct: one node per member, in order.
    Struct(Vec<Node>),
}

/// The columns of a schema and how a row's fields reach them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    /// The columns, depth first in schema order.
    pub columns: Vec<PlannedColumn>,
    /// One node per top-level field, in order.
    pub nodes: Vec<Node>,
}

impl Plan {
    /// The plan of `schema`; why it cannot be read, naming the column.
    pub fn of(schema: &SchemaDescriptor) -> Result<Self, String> {
        for leaf in schema.columns() {
            leaf_kind(leaf.self_type(), &leaf.path().string())?;
        }
        let mut plan = Plan { columns: Vec::new(), nodes: Vec::new() };
        let Type::GroupType { fields, .. } = schema.root_schema() else {
            return Err("the Parquet schema is not a message of fields".to_owned());
        };
        let mut nodes = Vec::with_capacity(fields.len());
        for field in fields {
            nodes.push(plan.node(field, "")?);
        }
        plan.nodes = nodes;
        Ok(plan)
    }

    /// The column types, in column order.
    pub fn kinds(&self) -> Vec<ColumnType> {
        self.columns.iter().map(|c| c.kind).collect()
    }

    /// The column names, in column order.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    fn node(&mut self, field: &Type, prefix: &str) -> Result<Node, String> {
        let name = if prefix.is_empty() { field.name().to_owned() } else { format!("{prefix}.{}", field.name()) };
        let info = field.get_basic_info();
        let repeated = info.has_repetition() && info.repetition() == Repetition::REPEATED;
        match field {
            Type::PrimitiveType { .. } if !repeated => {
                let (kind, read) = leaf_kind(field, &name)?;
                self.push(name, kind, read)
            }
            Type::GroupType { fields, .. } if !repeated && !is_collection(info.converted_type()) => {
                let mut members = Vec::with_capacity(fields.len());
                for member in fields {
                    members.push(self.node(member, &name)?);
                }
                Ok(Node::Struct(members))
            }
            _ => self.push(name, ColumnType::Text, Read::Json),
        }
    }

    fn push(&mut self, name: String, kind: ColumnType, read: Read) -> Result<Node, String> {
        if self.columns.len() >= MAX_COLUMNS {
            return Err(format!("the Parquet file has more than the {MAX_COLUMNS} columns a dataset may have"));
        }
        self.columns.push(PlannedColumn { name, kind, read });
        Ok(Node::Column(self.columns.len() - 1))
    }
}

/// Whether a group is read as a list or a map (as the record reader tells).
fn is_collection(converted: ConvertedType) -> bool {
    matches!(converted, ConvertedType::LIST | ConvertedType::MAP | ConvertedType::MAP_KEY_VALUE)
}

/// The type and reading of a leaf, by the same physical and converted
/// types the record reader converts by; a combination it cannot convert
/// is refused, naming the column (`path`).
fn leaf_kind(leaf: &Type, path: &str) -> Result<(ColumnType, Read), String> {
    use ConvertedType as C;
    let Type::PrimitiveType { physical_type, .. } = leaf else {
        return Err(format!("the column \"{path}\" is a group where a value was expected"));
    };
    let info = leaf.get_basic_info();
    let converted = info.converted_type();
    let logical = info.logical_type_ref();
    let found = match (*physical_type, converted) {
        (Physical::BOOLEAN, _) => (ColumnType::Boolean, Read::Value),
        (Physical::INT32, C::NONE | C::INT_8 | C::INT_16 | C::INT_32 | C::UINT_8 | C::UINT_16 | C::UINT_32)
        | (Physical::INT64, C::INT_64 | C::UINT_64) => (ColumnType::Integer, Read::Value),
        (Physical::INT32, C::DATE) => (ColumnType::Date, Read::Value),
        (Physical::INT32, C::TIME_MILLIS) | (Physical::INT64, C::TIME_MICROS) => (ColumnType::Text, Read::Value),
        (Physical::INT32 | Physical::INT64 | Physical::BYTE_ARRAY | Physical::FIXED_LEN_BYTE_ARRAY, C::DECIMAL) => {
            (ColumnType::Float, Read::Value)
        }
        (Physical::INT64, C::NONE) => match logical {
            Some(LogicalType::Timestamp { unit: TimeUnit::NANOS, .. }) => (ColumnType::Timestamp, Read::TimestampNanos),
            Some(LogicalType::Time { unit: TimeUnit::NANOS, .. }) => (ColumnType::Text, Read::TimeNanos),
            _ => (ColumnType::Integer, Read::Value),
        },
        (Physical::INT64, C::TIMESTAMP_MILLIS | C::TIMESTAMP_MICROS) | (Physical::INT96, _) => {
            (ColumnType::Timestamp, Read::Value)
        }
        (Physical::FLOAT | Physical::DOUBLE, _) => (ColumnType::Float, Read::Value),
        (Physical::BYTE_ARRAY, C::UTF8 | C::ENUM | C::JSON | C::BSON | C::NONE) => (ColumnType::Text, Read::Value),
        (Physical::FIXED_LEN_BYTE_ARRAY, C::NONE) => match logical {
            Some(LogicalType::Float16) => (ColumnType::Float, Read::Value),
            Some(LogicalType::Uuid) => (ColumnType::Text, Read::Uuid),
            _ => (ColumnType::Text, Read::Value),
        },
        (physical, converted) => {
            return Err(format!(
                "the column \"{path}\" holds {physical} values annotated {converted}, which datasets cannot read"
            ));
        }
    };
    Ok(found)
}

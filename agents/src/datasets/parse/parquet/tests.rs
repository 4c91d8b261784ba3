//! Parquet files written here with the crate's own writer, in every codec
//! this build reads, read back value by value through the same conversion
//! the load uses; and files at fault failing with what is wrong and where.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::parquet::basic::{Compression, GzipLevel, ZstdLevel};
use ::parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DataType, Decimal, DoubleType, FloatType, Int32Type, Int64Type,
};
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use ::parquet::schema::parser::parse_message_type;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike, Utc};
use serde_json::json;

use super::*;
use crate::datasets::infer::Converter;
use crate::datasets::value::Value;

const SCHEMA: &str = "
message sales {
  required int64 id;
  optional int32 qty (INTEGER(16,true));
  optional int64 big (INTEGER(64,false));
  optional double price;
  optional float weight;
  optional int64 amount (DECIMAL(12,2));
  optional boolean active;
  optional int32 day (DATE);
  optional int64 at (TIMESTAMP(MICROS,true));
  optional int64 at_ms (TIMESTAMP(MILLIS,true));
  optional int64 at_ns (TIMESTAMP(NANOS,false));
  optional binary name (STRING);
  optional binary raw;
  optional group customer {
    optional binary city (STRING);
    optional boolean vip;
  }
  optional group tags (LIST) {
    repeated group list {
      optional binary element (STRING);
    }
  }
  optional group attrs (MAP) {
    repeated group key_value {
      required binary key (STRING);
      optional int32 value;
    }
  }
}";

const NAMES: [&str; 17] = [
    "id",
    "qty",
    "big",
    "price",
    "weight",
    "amount",
    "active",
    "day",
    "at",
    "at_ms",
    "at_ns",
    "name",
    "raw",
    "customer.city",
    "customer.vip",
    "tags",
    "attrs",
];

/// One row as written.
struct Sample {
    id: i64,
    qty: Option<i16>,
    big: Option<u64>,
    price: Option<f64>,
    weight: Option<f32>,
    /// Cents: the decimal's unscaled value.
    amount: Option<i64>,
    active: Option<bool>,
    day: Option<NaiveDate>,
    at: Option<DateTime<Utc>>,
    name: Option<String>,
    raw: Option<Vec<u8>>,
    customer: Option<(Option<String>, Option<bool>)>,
    tags: Option<Vec<Option<String>>>,
    attrs: Option<Vec<(String, Option<i32>)>>,
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// `n` rows with nulls, extremes, non-UTF-8 bytes, null structs and empty
/// lists spread over them.
fn samples(n: i64) -> Vec<Sample> {
    let base = Utc.with_ymd_and_hms(2024, 3, 30, 22, 15, 0).single().unwrap_or_else(|| panic!("a date"));
    (0..n)
        .map(|i| Sample {
            id: i + 1,
            qty: (i % 4 != 3).then(|| i16::try_from(i * 7 - 20).unwrap_or_default()),
            big: (i % 5 != 4).then(|| if i == 2 { i64::MAX as u64 } else { i as u64 * 1_000_003 }),
            price: (i % 3 != 2).then(|| i as f64 * 2.25 - 3.5),
            weight: (i % 2 == 0).then(|| i as f32 * 0.5),
            amount: (i % 6 != 5).then(|| i * 1234 - 5000),
            active: (i % 4 != 1).then_some(i % 3 == 0),
            day: (i % 5 != 0).then(|| base.date_naive() + Duration::days(i * 11 - 40)),
            at: (i % 4 != 2).then(|| base + Duration::nanoseconds(i * 86_400_123_456_789 + i * 7)),
            name: (i % 5 != 3).then(|| if i == 1 { "Café crème".to_owned() } else { format!("item {i}") }),
            raw: (i % 3 != 1).then(|| if i % 2 == 0 { vec![0xff, i as u8, 0x00] } else { b"plain".to_vec() }),
            customer: match i % 3 {
                0 => None,
                1 => Some((Some(format!("city {i}")), Some(i % 2 == 0))),
                _ => Some((None, None)),
            },
            tags: match i % 4 {
                0 => None,
                1 => Some(Vec::new()),
                2 => Some(vec![Some("a".to_owned()), None, Some(format!("t{i}"))]),
                _ => Some(vec![Some("solo".to_owned())]),
            },
            attrs: match i % 3 {
                0 => Some(vec![("k".to_owned(), Some(i as i32)), ("none".to_owned(), None)]),
                1 => None,
                _ => Some(Vec::new()),
            },
        })
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alatar-parquet-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir.join(name)
}

/// Writes the next column of `group`.
fn column<T: DataType>(group: &mut SerializedRowGroupWriter<'_, File>, values: &[T::T], defs: &[i16], reps: &[i16]) {
    let mut writer = group.next_column().unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("no column left"));
    let (defs, reps) = ((!defs.is_empty()).then_some(defs), (!reps.is_empty()).then_some(reps));
    writer.typed::<T>().write_batch(values, defs, reps).unwrap_or_else(|e| panic!("{e}"));
    writer.close().unwrap_or_else(|e| panic!("{e}"));
}

/// Writes the next column of `group`: optional values, nulls where `None`.
fn optional<T: DataType>(group: &mut SerializedRowGroupWriter<'_, File>, values: Vec<Option<T::T>>) {
    let defs: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
    let present: Vec<T::T> = values.into_iter().flatten().collect();
    column::<T>(group, &present, &defs, &[]);
}

fn text(s: &str) -> ByteArray {
    ByteArray::from(s)
}

/// Writes one row group of `rows`.
fn row_group(group: &mut SerializedRowGroupWriter<'_, File>, rows: &[Sample]) {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    column::<Int64Type>(group, &ids, &[], &[]);
    optional::<Int32Type>(group, rows.iter().map(|r| r.qty.map(i32::from)).collect());
    optional::<Int64Type>(group, rows.iter().map(|r| r.big.map(|b| b as i64)).collect());
    optional::<DoubleType>(group, rows.iter().map(|r| r.price).collect());
    optional::<FloatType>(group, rows.iter().map(|r| r.weight).collect());
    optional::<Int64Type>(group, rows.iter().map(|r| r.amount).collect());
    optional::<BoolType>(group, rows.iter().map(|r| r.active).collect());
    let days = |d: NaiveDate| i32::try_from((d - epoch()).num_days()).unwrap_or_default();
    optional::<Int32Type>(group, rows.iter().map(|r| r.day.map(days)).collect());
    optional::<Int64Type>(group, rows.iter().map(|r| r.at.map(|at| at.timestamp_micros())).collect());
    optional::<Int64Type>(group, rows.iter().map(|r| r.at.map(|at| at.timestamp_millis())).collect());
    optional::<Int64Type>(group, rows.iter().map(|r| r.at.and_then(|at| at.timestamp_nanos_opt())).collect());
    optional::<ByteArrayType>(group, rows.iter().map(|r| r.name.as_deref().map(text)).collect());
    optional::<ByteArrayType>(group, rows.iter().map(|r| r.raw.clone().map(ByteArray::from)).collect());
    // The struct's members: 0 = no struct, 1 = a null member, 2 = a value.
    let (mut cities, mut city_defs, mut vips, mut vip_defs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        let (city, vip) = r.customer.clone().map_or((None, None), |(c, v)| (Some(c), Some(v)));
        city_defs.push(city.as_ref().map_or(0, |c: &Option<String>| if c.is_some() { 2 } else { 1 }));
        vip_defs.push(vip.map_or(0, |v: Option<bool>| if v.is_some() { 2 } else { 1 }));
        cities.extend(city.flatten().as_deref().map(text));
        vips.extend(vip.flatten());
    }
    column::<ByteArrayType>(group, &cities, &city_defs, &[]);
    column::<BoolType>(group, &vips, &vip_defs, &[]);
    // The list: 0 = no list, 1 = empty, 2 = a null element, 3 = an element.
    let (mut tags, mut defs, mut reps) = (Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        let Some(list) = &r.tags else {
            defs.push(0);
            reps.push(0);
            continue;
        };
        if list.is_empty() {
            defs.push(1);
            reps.push(0);
        }
        for (k, tag) in list.iter().enumerate() {
            reps.push(i16::from(k > 0));
            defs.push(if tag.is_some() { 3 } else { 2 });
            tags.extend(tag.as_deref().map(text));
        }
    }
    column::<ByteArrayType>(group, &tags, &defs, &reps);
    // The map: keys (0 = no map, 1 = empty, 2 = an entry), then values (3 = a value).
    let (mut keys, mut values, mut key_defs, mut value_defs, mut reps) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        let Some(entries) = &r.attrs else {
            key_defs.push(0);
            value_defs.push(0);
            reps.push(0);
            continue;
        };
        if entries.is_empty() {
            key_defs.push(1);
            value_defs.push(1);
            reps.push(0);
        }
        for (k, (key, value)) in entries.iter().enumerate() {
            reps.push(i16::from(k > 0));
            keys.push(text(key));
            key_defs.push(2);
            value_defs.push(if value.is_some() { 3 } else { 2 });
            values.extend(*value);
        }
    }
    column::<ByteArrayType>(group, &keys, &key_defs, &reps);
    column::<Int32Type>(group, &values, &value_defs, &reps);
}

/// A file of `rows` in row groups of `per_group`, compressed with `codec`.
fn write(path: &Path, rows: &[Sample], per_group: usize, codec: Compression) {
    let schema = Arc::new(parse_message_type(SCHEMA).unwrap_or_else(|e| panic!("{e}")));
    let props = Arc::new(WriterProperties::builder().set_compression(codec).build());
    let file = File::create(path).unwrap_or_else(|e| panic!("{e}"));
    let mut writer = SerializedFileWriter::new(file, schema, props).unwrap_or_else(|e| panic!("{e}"));
    for chunk in rows.chunks(per_group) {
        let mut group = writer.next_row_group().unwrap_or_else(|e| panic!("{e}"));
        row_group(&mut group, chunk);
        group.close().unwrap_or_else(|e| panic!("{e}"));
    }
    writer.close().unwrap_or_else(|e| panic!("{e}"));
}

/// A writer of `schema` to `path`, with the default properties.
fn plain_writer(path: &Path, schema: &str) -> SerializedFileWriter<File> {
    let schema = Arc::new(parse_message_type(schema).unwrap_or_else(|e| panic!("{e}")));
    let file = File::create(path).unwrap_or_else(|e| panic!("{e}"));
    let props = Arc::new(WriterProperties::builder().build());
    SerializedFileWriter::new(file, schema, props).unwrap_or_else(|e| panic!("{e}"))
}

/// The values a row must load as, column by column.
fn expected(s: &Sample) -> Vec<Value> {
    let cut = |at: DateTime<Utc>, unit: u32| at.with_nanosecond(at.nanosecond() / unit * unit).unwrap_or(at);
    let stamp = |unit: u32| s.at.map_or(Value::Null, |at| Value::Timestamp(cut(at, unit)));
    let text = |t: Option<String>| t.map_or(Value::Null, Value::Text);
    let attrs = s.attrs.as_ref().map(|entries| {
        let object: serde_json::Map<String, serde_json::Value> =
            entries.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        serde_json::Value::Object(object).to_string()
    });
    vec![
        Value::Integer(s.id),
        s.qty.map_or(Value::Null, |q| Value::Integer(i64::from(q))),
        s.big.map_or(Value::Null, |b| Value::Integer(i64::try_from(b).unwrap_or_default())),
        s.price.map_or(Value::Null, Value::Float),
        s.weight.map_or(Value::Null, |w| Value::Float(f64::from(w))),
        s.amount.map_or(Value::Null, |a| Value::Float(a as f64 / 100.0)),
        s.active.map_or(Value::Null, Value::Boolean),
        s.day.map_or(Value::Null, Value::Date),
        stamp(1_000),
        stamp(1_000_000),
        stamp(1_000),
        text(s.name.clone()),
        text(s.raw.as_ref().map(|r| String::from_utf8(r.clone()).unwrap_or_else(|_| hex::encode(r)))),
        text(s.customer.as_ref().and_then(|c| c.0.clone())),
        s.customer.as_ref().and_then(|c| c.1).map_or(Value::Null, Value::Boolean),
        text(s.tags.as_ref().map(|tags| json!(tags).to_string())),
        text(attrs),
    ]
}

/// Every row of the file, as cells.
fn cells_of(path: &Path, columns: &mut Vec<String>) -> Result<Vec<Vec<Cell>>, ParseError> {
    let mut rows = Vec::new();
    let mut keep = |cells: &[Cell]| -> Result<(), ParseError> {
        rows.push(cells.to_vec());
        Ok(())
    };
    read(path, columns, &Progress::default(), &mut keep)?;
    Ok(rows)
}

/// The rows as the load converts them: each column through its declared
/// type's converter, as `ingest` does.
fn loaded(path: &Path) -> Vec<Vec<Value>> {
    let kinds = column_types(path).unwrap_or_else(|e| panic!("{e}"));
    let rows = cells_of(path, &mut Vec::new()).unwrap_or_else(|e| panic!("{e}"));
    let converters: Vec<Converter> = (0..kinds.len())
        .map(|j| {
            let mut stats = ColumnStats::default();
            rows.iter().for_each(|row| stats.observe(&row[j]));
            Converter::new(kinds[j], &inference(kinds[j], &stats))
        })
        .collect();
    rows.iter()
        .map(|row| {
            row.iter()
                .zip(&converters)
                .enumerate()
                .map(|(j, (cell, converter))| {
                    let (value, invalid) = converter.convert(cell);
                    assert!(!invalid, "column {} read {cell:?} as invalid", NAMES[j]);
                    value
                })
                .collect()
        })
        .collect()
}

#[test]
fn every_codec_reads_every_value_back() {
    let rows = samples(12);
    let codecs = [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::GZIP(GzipLevel::default()),
        Compression::ZSTD(ZstdLevel::default()),
        Compression::LZ4,
        Compression::LZ4_RAW,
    ];
    for codec in codecs {
        let path = scratch("sales.parquet");
        write(&path, &rows, 5, codec);
        let kinds = column_types(&path).unwrap_or_else(|e| panic!("{codec}: {e}"));
        use ColumnType::*;
        let declared = [
            Integer, Integer, Integer, Float, Float, Float, Boolean, Date, Timestamp, Timestamp, Timestamp, Text, Text,
            Text, Boolean, Text, Text,
        ];
        assert_eq!(kinds, declared, "{codec}");
        let mut columns = Vec::new();
        let cells = cells_of(&path, &mut columns).unwrap_or_else(|e| panic!("{codec}: {e}"));
        assert_eq!(columns, NAMES, "{codec}");
        assert_eq!(cells.len(), rows.len(), "{codec}");
        let values = loaded(&path);
        for (i, (got, sample)) in values.iter().zip(&rows).enumerate() {
            for (j, (got, want)) in got.iter().zip(expected(sample)).enumerate() {
                assert_eq!(*got, want, "{codec}: row {i}, column {}", NAMES[j]);
            }
        }
        // The second pass is given the columns the first found.
        let again = cells_of(&path, &mut columns).unwrap_or_else(|e| panic!("{codec}: {e}"));
        assert_eq!(again, cells, "{codec}");
        let _ = std::fs::remove_dir_all(path.parent().unwrap_or(&path));
    }
}

#[test]
fn nested_values_read_as_the_json_uploads_do() {
    let path = scratch("nested.parquet");
    write(&path, &samples(4), 10, Compression::SNAPPY);
    let cells = cells_of(&path, &mut Vec::new()).unwrap_or_else(|e| panic!("{e}"));
    let (city, vip, tags, attrs) = (13, 14, 15, 16);
    // Row 0: no struct, no list; a map with a null value.
    assert_eq!(cells[0][city], Cell::Null);
    assert_eq!(cells[0][vip], Cell::Null);
    assert_eq!(cells[0][tags], Cell::Null);
    assert_eq!(cells[0][attrs], Cell::Text("{\"k\":0,\"none\":null}".into()));
    // Row 1: a struct with both members; an empty list; no map.
    assert_eq!(cells[1][city], Cell::Text("city 1".into()));
    assert_eq!(cells[1][vip], Cell::Boolean(false));
    assert_eq!(cells[1][tags], Cell::Text("[]".into()));
    assert_eq!(cells[1][attrs], Cell::Null);
    // Row 2: a struct of nulls; a list with a null element; an empty map.
    assert_eq!(cells[2][city], Cell::Null);
    assert_eq!(cells[2][tags], Cell::Text("[\"a\",null,\"t2\"]".into()));
    assert_eq!(cells[2][attrs], Cell::Text("{}".into()));
    // Text as written, timestamps in UTC with their fraction, bytes in hex.
    assert_eq!(cells[1][11], Cell::Text("Café crème".into()));
    assert_eq!(cells[0][12], Cell::Text("ff0000".into()));
    assert_eq!(cells[1][8], Cell::Text("2024-03-31T22:15:00.123456Z".into()));
    assert_eq!(cells[1][10], Cell::Text("2024-03-31T22:15:00.123456796Z".into()));
    assert_eq!(cells[1][7], Cell::Text("2024-03-01".into()));
    let _ = std::fs::remove_dir_all(path.parent().unwrap_or(&path));
}

#[test]
fn a_file_cut_short_fails_saying_so() {
    let path = scratch("cut.parquet");
    write(&path, &samples(30), 10, Compression::ZSTD(ZstdLevel::default()));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap_or_else(|e| panic!("{e}"));
    let message = cells_of(&path, &mut Vec::new()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.starts_with("the file is not Parquet, or it was cut short"), "{message}");
    std::fs::write(&path, b"id,name\n1,Mug\n").unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(column_types(&path), Err(ParseError::Invalid(_))));
    let _ = std::fs::remove_dir_all(path.parent().unwrap_or(&path));
}

#[test]
fn a_footer_claiming_billions_of_entries_is_refused_before_the_reader_allocates() {
    let path = scratch("lying.parquet");
    // Field 1 of FileMetaData (version) given as a list of 2³¹ − 1 integers.
    let footer = [0x19, 0xf5, 0xff, 0xff, 0xff, 0xff, 0x07, 0x02, 0x00];
    let mut bytes = PARQUET_MAGIC.to_vec();
    bytes.extend(footer);
    bytes.extend((footer.len() as u32).to_le_bytes());
    bytes.extend(PARQUET_MAGIC);
    std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let message = column_types(&path).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.starts_with("the Parquet file's footer could not be read"), "{message}");
    assert!(message.contains("2147483647 elements"), "{message}");
    // A footer longer than the file.
    let len = bytes.len();
    bytes[len - 8..len - 4].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let message = column_types(&path).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("claims 4294967295 bytes"), "{message}");
    let _ = std::fs::remove_dir_all(path.parent().unwrap_or(&path));
}

#[test]
fn a_corrupt_column_chunk_names_its_row_group_and_column() {
    let path = scratch("corrupt.parquet");
    write(&path, &samples(20), 10, Compression::SNAPPY);
    let reader = SerializedFileReader::new(File::open(&path).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let chunk = reader.metadata().row_group(1).column(11).clone();
    drop(reader);
    assert_eq!(chunk.column_path().string(), "name");
    let start = chunk.dictionary_page_offset().unwrap_or_else(|| chunk.data_page_offset());
    let (start, length) = (usize::try_from(start).unwrap_or(0), usize::try_from(chunk.compressed_size()).unwrap_or(0));
    let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    bytes[start..start + length].iter_mut().for_each(|b| *b = 0xFF);
    std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let message = cells_of(&path, &mut Vec::new()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.starts_with("row group 2 of 2, column \"name\" could not be read"), "{message}");
    let _ = std::fs::remove_dir_all(path.parent().unwrap_or(&path));
}

#[test]
fn an_unsigned_value_beyond_64_bit_integers_names_its_column() {
    let path = scratch("unsigned.parquet");
    let mut writer = plain_writer(&path, "message m { optional int64 big (INTEGER(64,false)); }");
    let mut group = writer.next_row_group().unwrap_or_else(|e| panic!("{e}"));
    // -1 is u64::MAX's bit pattern.
    optional::<Int64Type>(&mut group, vec![Some(7), Some(-1)]);
    group.close().unwrap_or_else(|e| panic!("{e}"));
    writer.close().unwrap_or_else(|e| panic!("{e}"));
    let message = cells_of(&path, &mut Vec::new()).err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        message,
        "row group 1 of 1, row 2: the column \"big\": 18446744073709551615 is beyond the largest integer \
         a dataset holds (9223372036854775807)"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap_or(&path));
}

#[test]
fn a_type_the_reader_cannot_convert_is_refused_by_name() {
    let path = scratch("interval.parquet");
    let schema = "message m { required int64 id; optional fixed_len_byte_array(12) span (INTERVAL); }";
    let writer = plain_writer(&path, schema);
    writer.close().unwrap_or_else(|e| panic!("{e}"));
    let message = column_types(&path).err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        message,
        "the column \"span\" holds FIXED_LEN_BYTE_ARRAY values annotated INTERVAL, which datasets cannot read"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap_or(&path));
}

#[test]
fn decimals_of_any_width_become_floats() {
    let of = |bytes: Vec<u8>, scale: i32| cells::decimal(&Decimal::from_bytes(ByteArray::from(bytes), 38, scale));
    assert_eq!(of(vec![0xFF, 0x38], 2), -2.0);
    assert_eq!(of(vec![0x30, 0x39], 2), 123.45);
    assert_eq!(of(Vec::new(), 0), 0.0);
    let mut wide = vec![0u8; 20];
    wide[19] = 5;
    assert_eq!(of(wide.clone(), 1), 0.5);
    let minus_one = vec![0xFF; 20];
    assert_eq!(of(minus_one, 0), -1.0);
    assert_eq!(cells::decimal(&Decimal::from_i64(-5000, 12, 2)), -50.0);
}

#[test]
fn a_panic_in_the_reader_is_an_error() {
    let caught: Result<(), String> = guarded(|| panic!("assertion failed: col_start >= 0"));
    assert_eq!(caught, Err("the Parquet reader failed on it (assertion failed: col_start >= 0)".to_owned()));
}

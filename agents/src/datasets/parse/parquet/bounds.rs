//! What the `parquet` crate must never be handed: it sizes its buffers
//! from numbers in the file (`Vec::with_capacity` of a footer list's
//! declared length, a page's declared uncompressed size), and a failed
//! allocation aborts the process, which `catch_unwind` cannot catch. So a
//! 40-byte file whose footer claims 2³¹ row groups would take the worker
//! (and, embedded, the server) down. Before the crate reads anything, the
//! footer and every page header are walked here as Thrift compact
//! protocol, generically, and refused when:
//!
//! - the footer is larger than [`MAX_FOOTER_BYTES`] or than the file;
//! - a list, set or map declares more elements than bytes remain (each
//!   element takes at least one), a binary is longer than what remains,
//!   or structs nest deeper than [`MAX_DEPTH`];
//! - a page declares more than [`MAX_PAGE_BYTES`] uncompressed, or more
//!   values than its chunk's rows allow (a decompression bomb: a few bytes
//!   of run-length encoding can claim billions of values);
//! - the file claims more than [`MAX_ROWS`] rows.
//!
//! Only these bounds are checked; the crate still reads and validates
//! everything else.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use ::parquet::file::metadata::ParquetMetaData;

/// The largest footer read (real ones are kilobytes to a few megabytes).
pub const MAX_FOOTER_BYTES: u64 = 64 << 20;
/// Deepest nesting of structs, lists and maps in the footer or a page header.
pub const MAX_DEPTH: usize = 32;
/// The largest page, uncompressed.
pub const MAX_PAGE_BYTES: i64 = 256 << 20;
/// The most rows a file may claim.
pub const MAX_ROWS: i64 = 200_000_000;
/// Values a repeated column may hold per row, at most.
const MAX_VALUES_PER_ROW: i64 = 1_000;
/// The largest page header read.
const MAX_PAGE_HEADER_BYTES: usize = 1 << 20;

/// Thrift compact protocol's type codes.
mod code {
    pub const STOP: u8 = 0;
    pub const TRUE: u8 = 1;
    pub const FALSE: u8 = 2;
    pub const BYTE: u8 = 3;
    pub const I16: u8 = 4;
    pub const I32: u8 = 5;
    pub const I64: u8 = 6;
    pub const DOUBLE: u8 = 7;
    pub const BINARY: u8 = 8;
    pub const LIST: u8 = 9;
    pub const SET: u8 = 10;
    pub const MAP: u8 = 11;
    pub const STRUCT: u8 = 12;
    pub const UUID: u8 = 13;
}

/// Why the walk stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walk {
    /// The bytes end inside the structure (a page header may need more).
    Short,
    /// The structure claims what cannot be.
    Bad(String),
}

/// A cursor over Thrift compact protocol bytes.
struct Walker<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Walker<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn byte(&mut self) -> Result<u8, Walk> {
        let b = *self.bytes.get(self.at).ok_or(Walk::Short)?;
        self.at += 1;
        Ok(b)
    }

    fn skip(&mut self, n: usize) -> Result<(), Walk> {
        if n > self.remaining() {
            return Err(Walk::Short);
        }
        self.at += n;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, Walk> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(Walk::Bad("a varint overflows 64 bits".into()));
            }
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Walk::Bad("a varint is longer than 10 bytes".into()))
    }

    fn zigzag(&mut self) -> Result<i64, Walk> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// `count` elements, each at least a byte, must fit in what remains.
    fn elements(&self, count: u64, per: u64) -> Result<(), Walk> {
        if count.saturating_mul(per) > self.remaining() as u64 {
            return Err(Walk::Bad(format!("a list declares {count} elements in {} bytes", self.remaining())));
        }
        Ok(())
    }

    /// Skips one value of type `kind`.
    fn value(&mut self, kind: u8, depth: usize) -> Result<(), Walk> {
        match kind {
            code::TRUE | code::FALSE => Ok(()),
            code::BYTE => self.skip(1),
            code::I16 | code::I32 | code::I64 => self.varint().map(drop),
            code::DOUBLE => self.skip(8),
            code::UUID => self.skip(16),
            code::BINARY => {
                let length = self.varint()?;
                if length > self.remaining() as u64 {
                    // A page header may simply need more bytes; the footer is whole.
                    return Err(Walk::Short);
                }
                self.skip(length as usize)
            }
            code::LIST | code::SET => {
                let (count, element) = self.list_header()?;
                self.elements(count, 1)?;
                let element = if element == code::FALSE { code::TRUE } else { element };
                for _ in 0..count {
                    // A boolean in a list is a whole byte.
                    if element == code::TRUE {
                        self.skip(1)?;
                    } else {
                        self.value(element, depth + 1)?;
                    }
                }
                Ok(())
            }
            code::MAP => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                let kinds = self.byte()?;
                self.elements(count, 2)?;
                for _ in 0..count {
                    self.value(kinds >> 4, depth + 1)?;
                    self.value(kinds & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            code::STRUCT => self.fields(depth + 1, &mut |_, _, _| Ok(false)),
            other => Err(Walk::Bad(format!("unknown Thrift type {other}"))),
        }
    }

    fn list_header(&mut self) -> Result<(u64, u8), Walk> {
        let header = self.byte()?;
        let count = match header >> 4 {
            15 => self.varint()?,
            n => u64::from(n),
        };
        Ok((count, header & 0x0f))
    }

    /// Walks a struct's fields to its stop; `seen(id, kind, walker)` may
    /// read a field itself (returning true) or leave it to be skipped.
    fn fields(
        &mut self,
        depth: usize,
        seen: &mut dyn FnMut(i16, u8, &mut Walker<'a>) -> Result<bool, Walk>,
    ) -> Result<(), Walk> {
        if depth > MAX_DEPTH {
            return Err(Walk::Bad(format!("structures nest deeper than {MAX_DEPTH}")));
        }
        let mut id: i16 = 0;
        loop {
            let header = self.byte()?;
            let kind = header & 0x0f;
            if kind == code::STOP {
                return Ok(());
            }
            id = match header >> 4 {
                0 => i16::try_from(self.zigzag()?).map_err(|_| Walk::Bad("a field id is out of range".into()))?,
                delta => id.wrapping_add(i16::from(delta)),
            };
            if !seen(id, kind, self)? {
                self.value(kind, depth)?;
            }
        }
    }

    fn int(&mut self, kind: u8) -> Result<i64, Walk> {
        match kind {
            code::I16 | code::I32 | code::I64 => self.zigzag(),
            _ => Err(Walk::Bad("a size is not an integer".into())),
        }
    }
}

/// Checks the footer (the bytes between the data and the trailing
/// length and `PAR1`).
pub fn check_footer(footer: &[u8]) -> Result<(), String> {
    let mut walker = Walker { bytes: footer, at: 0 };
    match walker.fields(0, &mut |_, _, _| Ok(false)) {
        Ok(()) => Ok(()),
        Err(Walk::Short) => Err("it ends inside its own structure".into()),
        Err(Walk::Bad(why)) => Err(why),
    }
}

/// What a page header declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PageFacts {
    /// Bytes of the page after its header, as stored.
    pub compressed: i64,
    /// Bytes once decompressed.
    pub uncompressed: i64,
    /// Values it holds (data pages; 0 for a dictionary or index page).
    pub values: i64,
    /// The header's own length.
    pub header_len: usize,
}

/// Reads a page header from `bytes` (which may end before it does: `Short`).
pub fn page_header(bytes: &[u8]) -> Result<PageFacts, Walk> {
    let mut facts = PageFacts::default();
    let mut walker = Walker { bytes, at: 0 };
    walker.fields(0, &mut |id, kind, w| match id {
        2 => {
            facts.uncompressed = w.int(kind)?;
            Ok(true)
        }
        3 => {
            facts.compressed = w.int(kind)?;
            Ok(true)
        }
        // data_page_header, data_page_header_v2: num_values is their field 1.
        5 | 8 if kind == code::STRUCT => {
            w.fields(1, &mut |inner, kind, w| {
                if inner == 1 {
                    facts.values = w.int(kind)?;
                    Ok(true)
                } else {
                    Ok(false)
                }
            })?;
            Ok(true)
        }
        _ => Ok(false),
    })?;
    facts.header_len = walker.at;
    Ok(facts)
}

/// The footer of a file of `size` bytes that ends with `PAR1` (checked by
/// the caller): its bytes, refused when it cannot be.
pub fn read_footer(file: &mut File, size: u64) -> Result<Vec<u8>, String> {
    let mut length = [0u8; 4];
    file.seek(SeekFrom::Start(size - 8)).map_err(|e| e.to_string())?;
    file.read_exact(&mut length).map_err(|e| e.to_string())?;
    let length = u64::from(u32::from_le_bytes(length));
    if length > size.saturating_sub(12) {
        return Err(format!("it claims {length} bytes in a file of {size}"));
    }
    if length > MAX_FOOTER_BYTES {
        return Err(format!("it is {length} bytes, more than the {MAX_FOOTER_BYTES} read"));
    }
    let mut footer = vec![0u8; length as usize];
    file.seek(SeekFrom::Start(size - 8 - length)).map_err(|e| e.to_string())?;
    file.read_exact(&mut footer).map_err(|e| e.to_string())?;
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    Ok(footer)
}

/// Checks every page header of every column chunk against the bounds in
/// the module documentation, reading only the headers. `Err` names where.
pub fn check_pages(file: &mut File, metadata: &ParquetMetaData) -> Result<(), String> {
    let mut rows: i64 = 0;
    let groups = metadata.num_row_groups();
    for (g, group) in metadata.row_groups().iter().enumerate() {
        rows = rows.saturating_add(group.num_rows().max(0));
        if rows > MAX_ROWS {
            return Err(format!("the file claims more than {MAX_ROWS} rows"));
        }
        for (c, chunk) in group.columns().iter().enumerate() {
            let repeated = group.schema_descr().column(c).max_rep_level() > 0;
            let per_row = if repeated { MAX_VALUES_PER_ROW } else { 1 };
            let most_values = group.num_rows().max(0).saturating_mul(per_row);
            let start = chunk.dictionary_page_offset().unwrap_or_else(|| chunk.data_page_offset());
            let end = start.saturating_add(chunk.compressed_size());
            let at = |what: String| {
                let column = chunk.column_path().string();
                format!("row group {} of {groups}, column \"{column}\" could not be read: {what}", g + 1)
            };
            let mut offset = start;
            let mut values: i64 = 0;
            while offset < end {
                let facts = read_page_header(file, offset, end).map_err(at)?;
                if facts.uncompressed < 0 || facts.compressed < 0 {
                    return Err(at("a page declares a negative size".into()));
                }
                if facts.uncompressed > MAX_PAGE_BYTES {
                    return Err(at(format!(
                        "a page declares {} bytes uncompressed, more than the {MAX_PAGE_BYTES} read",
                        facts.uncompressed
                    )));
                }
                values = values.saturating_add(facts.values.max(0));
                if values > most_values {
                    return Err(at(format!("its pages hold more values than its {} rows can", group.num_rows())));
                }
                offset = offset.saturating_add(facts.header_len as i64).saturating_add(facts.compressed);
            }
        }
    }
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    Ok(())
}

/// The page header at `offset`, read in growing pieces (headers are
/// usually tens of bytes; statistics can make them longer).
fn read_page_header(file: &mut File, offset: i64, end: i64) -> Result<PageFacts, String> {
    let available = usize::try_from(end.saturating_sub(offset)).unwrap_or(0);
    let mut want = 256usize;
    loop {
        let take = want.min(available).min(MAX_PAGE_HEADER_BYTES);
        let mut buffer = vec![0u8; take];
        file.seek(SeekFrom::Start(u64::try_from(offset).unwrap_or(0))).map_err(|e| e.to_string())?;
        file.read_exact(&mut buffer).map_err(|e| e.to_string())?;
        match page_header(&buffer) {
            Ok(facts) => return Ok(facts),
            Err(Walk::Short) if take < available && take < MAX_PAGE_HEADER_BYTES => want = take * 4,
            Err(Walk::Short) => return Err("a page header runs past its column chunk".into()),
            Err(Walk::Bad(why)) => return Err(format!("a page header is corrupt: {why}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A struct with one field of id 1: a list of `count` i32 (declared, not present).
    fn claiming_list(count: u32) -> Vec<u8> {
        let mut bytes = vec![0x19, 0xf5]; // field 1, LIST; long-form size, element I32
        let mut n = count;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                bytes.push(b);
                break;
            }
            bytes.push(b | 0x80);
        }
        bytes.extend([0x02, 0x04, 0x06]); // three small varints
        bytes.push(0x00); // stop
        bytes
    }

    #[test]
    fn lists_may_not_claim_more_elements_than_bytes() {
        assert_eq!(check_footer(&claiming_list(3)), Ok(()));
        let refused = check_footer(&claiming_list(0x7fff_ffff));
        assert!(refused.as_ref().is_err_and(|e| e.contains("2147483647 elements")), "{refused:?}");
    }

    #[test]
    fn nesting_is_bounded() {
        // field 1 STRUCT, again and again, never stopped.
        let deep = vec![0x1c; 100];
        assert!(check_footer(&deep).is_err_and(|e| e.contains("nest deeper")));
        let mut shallow = vec![0x1c; 10];
        shallow.extend(vec![0x00; 11]);
        assert_eq!(check_footer(&shallow), Ok(()));
    }

    #[test]
    fn a_footer_cut_short_is_refused() {
        let whole = claiming_list(3);
        assert!(check_footer(&whole[..whole.len() - 2]).is_err());
    }

    #[test]
    fn page_headers_give_their_sizes_and_values() {
        // type 0 (DATA_PAGE), uncompressed 1000, compressed 300, data_page_header { num_values 50 }.
        let header = [0x15, 0x00, 0x15, 0xd0, 0x0f, 0x15, 0xd8, 0x04, 0x2c, 0x15, 0x64, 0x00, 0x00];
        let facts = page_header(&header).unwrap_or_default();
        assert_eq!(facts, PageFacts { uncompressed: 1000, compressed: 300, values: 50, header_len: header.len() });
        assert_eq!(page_header(&header[..6]), Err(Walk::Short));
    }
}

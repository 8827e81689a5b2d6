//! The canonical encoding of creator arguments.
//!
//! Every argument of a run enters its key as canonical bytes. The encoding is
//! **self-describing**: each value starts with a one-byte type tag, and
//! structs, fields, enums and variants are written by name. So two values
//! that differ anywhere in serde's data model (a field name, a variant, an
//! integer width, a field that `skip_serializing_if` left out) never share bytes, and a stale
//! output can never be returned for a different argument (issue 10). It is
//! also **deterministic**: unordered collections (`HashMap`, `HashSet`, …)
//! are written sorted wherever they appear, so the same value gives the same
//! bytes in every process (invariant 7, `docs/design/0000-design.md`).
//!
//! The layout, and which collections are sorted, are documented on
//! [`canonical_bytes`], which users see; `docs/design/0002-keys.md` says why.

use std::any::type_name;
use std::fmt;

use serde::ser::{self, Serialize};

use crate::error::Error;

// One byte per form of serde's data model; see the module docs.
const UNIT: u8 = 0x00;
const BOOL: u8 = 0x01;
const I8: u8 = 0x02;
const I16: u8 = 0x03;
const I32: u8 = 0x04;
const I64: u8 = 0x05;
const I128: u8 = 0x06;
const U8: u8 = 0x07;
const U16: u8 = 0x08;
const U32: u8 = 0x09;
const U64: u8 = 0x0a;
const U128: u8 = 0x0b;
const F32: u8 = 0x0c;
const F64: u8 = 0x0d;
const CHAR: u8 = 0x0e;
const STR: u8 = 0x0f;
const BYTES: u8 = 0x10;
const NONE: u8 = 0x11;
const SOME: u8 = 0x12;
const UNIT_STRUCT: u8 = 0x13;
const NEWTYPE_STRUCT: u8 = 0x14;
const TUPLE: u8 = 0x15;
const TUPLE_STRUCT: u8 = 0x16;
const STRUCT: u8 = 0x17;
const UNIT_VARIANT: u8 = 0x18;
const NEWTYPE_VARIANT: u8 = 0x19;
const TUPLE_VARIANT: u8 = 0x1a;
const STRUCT_VARIANT: u8 = 0x1b;
const SEQ: u8 = 0x1c;
const UNORDERED_SEQ: u8 = 0x1d;
const MAP: u8 = 0x1e;
const UNORDERED_MAP: u8 = 0x1f;

/// Encodes `value` canonically: self-describing, with unordered collections
/// sorted wherever they appear.
///
/// # Layout
/// Integers are little-endian. A *len* is a `u64` count; a *name* is a len of
/// UTF-8 bytes followed by the bytes. Every value is one tag byte, then:
///
/// | tag    | serde form       | after the tag                                         |
/// |--------|------------------|-------------------------------------------------------|
/// | `0x00` | unit             | nothing                                               |
/// | `0x01` | bool             | one byte, 0 or 1                                      |
/// | `0x02`–`0x06` | `i8` `i16` `i32` `i64` `i128` | the integer, 1 to 16 bytes          |
/// | `0x07`–`0x0b` | `u8` `u16` `u32` `u64` `u128` | the integer, 1 to 16 bytes          |
/// | `0x0c` | `f32`            | its bits, 4 bytes                                     |
/// | `0x0d` | `f64`            | its bits, 8 bytes                                     |
/// | `0x0e` | char             | its scalar value, `u32`                               |
/// | `0x0f` | str              | name (len + UTF-8)                                    |
/// | `0x10` | bytes            | len + bytes                                           |
/// | `0x11` | none             | nothing                                               |
/// | `0x12` | some             | value                                                 |
/// | `0x13` | unit struct      | struct name                                           |
/// | `0x14` | newtype struct   | struct name, value                                    |
/// | `0x15` | tuple            | len, values                                           |
/// | `0x16` | tuple struct     | struct name, len, values                              |
/// | `0x17` | struct           | struct name, len, (field name, value) per field       |
/// | `0x18` | unit variant     | enum name, index `u32`, variant name                  |
/// | `0x19` | newtype variant  | enum name, index `u32`, variant name, value           |
/// | `0x1a` | tuple variant    | enum name, index `u32`, variant name, len, values     |
/// | `0x1b` | struct variant   | enum name, index `u32`, variant name, len, fields     |
/// | `0x1c` | ordered seq      | len, values in iteration order                        |
/// | `0x1d` | unordered seq    | len, values sorted by their encoded bytes             |
/// | `0x1e` | ordered map      | len, (key, value) in iteration order                  |
/// | `0x1f` | unordered map    | len, (key, value) sorted by encoded key, then value   |
///
/// Every encoding is self-delimiting (the tag fixes the layout, and every
/// variable part is counted), so no encoding is a prefix of another and the
/// bytes decode to exactly one data-model value. That also makes sorting by
/// encoded bytes well defined: comparing two whole entries compares their
/// keys first. Lens count what was actually written, not serde's size hint:
/// a struct with `skip_serializing_if` fields gets the number of fields it
/// wrote.
///
/// # Ordered and unordered collections
/// A `HashSet` and a `Vec` both serialize as a seq, and a `HashMap` and an
/// `IndexMap` both as a map, so the serializer alone cannot tell whether
/// order is meaning. serde's `Serializer` methods are generic over the type
/// of the value, though, so the encoder looks at [`std::any::type_name`] of
/// each value (at the top level, in struct fields, tuple and array elements,
/// map keys and values, `Option`s and newtypes) to decide. The type name is
/// only used for this decision, never written: it is not stable across
/// compilers.
///
/// These are sorted, behind any number of `&`, `Box`, `Rc`, `Arc`, `Cow`,
/// `RefCell`, `Cell`, `Mutex` and `RwLock` wrappers, and behind type aliases:
/// - `HashMap`, `HashSet`, `BTreeMap`, `BTreeSet`, `BinaryHeap` from
///   `std`/`alloc` (so also `FxHashMap`-style aliases of them);
/// - `HashMap`/`HashSet` from `hashbrown`, `AHashMap`/`AHashSet` from
///   `ahash`, `DashMap`/`DashSet` from `dashmap`, and the hash and ordered
///   maps and sets of `im`, `im_rc` and `imbl`.
///
/// Everything else keeps its order: `Vec`, slices, arrays, `VecDeque`,
/// `IndexMap`/`IndexSet` (whose order is their meaning), and any map or seq
/// of a type this list does not know. For an unknown type, keeping order
/// risks a needless re-run when its order is random; sorting would risk
/// treating two different ordered values as equal, a false cache hit, which
/// is worse (`docs/design/0002-keys.md`).
///
/// So a set or map of an unknown type, or one that a custom `Serialize`
/// (`serialize_with`, `#[serde(transparent)]`, `#[serde(flatten)]`) writes
/// through its parent's serializer, keeps its iteration order. If that order
/// is random, the key changes in each process: a miss, never a wrong hit.
/// Use a `BTreeMap` there, or sort in the `serialize_with` function.
///
/// # Floats
/// Floats are encoded by their bits, so `-0.0` and `0.0` give different keys,
/// and so do NaNs with different payloads. Normalize them before the call if
/// that matters to you.
///
/// # Errors
/// [`Error::Encode`] (with `param` set to `"value"`) when `value`'s
/// `Serialize` implementation fails.
///
/// # Example
/// ```
/// use std::collections::{HashMap, HashSet};
/// use lake_core::key::canonical_bytes;
///
/// #[derive(serde::Serialize)]
/// struct Filter {
///     countries: HashSet<&'static str>,
///     weights: HashMap<&'static str, u8>,
/// }
///
/// let a = Filter {
///     countries: ["fr", "de", "it"].into(),
///     weights: [("x", 1), ("y", 2)].into(),
/// };
/// let b = Filter {
///     countries: ["it", "fr", "de"].into(),
///     weights: [("y", 2), ("x", 1)].into(),
/// };
/// assert_eq!(canonical_bytes(&a)?, canonical_bytes(&b)?);
/// // Lists keep their order.
/// assert_ne!(canonical_bytes(&vec![1, 2])?, canonical_bytes(&vec![2, 1])?);
/// # Ok::<(), lake_core::Error>(())
/// ```
pub fn canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    encode_arg("value", value)
}

/// Encodes the argument `param` canonically (see [`canonical_bytes`]);
/// errors name `param`.
///
/// This is what the runtime calls for each argument of a run.
///
/// # Errors
/// [`Error::Encode`] when `value`'s `Serialize` implementation fails.
///
/// # Example
/// ```
/// use lake_core::key::encode_arg;
///
/// // Tag 0x09 (u32), then the value.
/// assert_eq!(encode_arg("limit", &7u32)?, [0x09, 7, 0, 0, 0]);
/// # Ok::<(), lake_core::Error>(())
/// ```
pub fn encode_arg<T: Serialize + ?Sized>(param: &str, value: &T) -> Result<Vec<u8>, Error> {
    // Most arguments are a few scalars or short strings; one allocation of
    // this size covers them.
    let mut state = State {
        out: Vec::with_capacity(64),
        spans: Vec::new(),
        scratch: Vec::new(),
    };
    value
        .serialize(Encoder {
            st: &mut state,
            type_name: type_name::<T>(),
        })
        .map_err(|e| Error::Encode {
            param: param.to_owned(),
            message: e.0,
        })?;
    Ok(state.out)
}

/// Whether the seq or map that a value of type `type_name` writes has an
/// order that means nothing, so it is sorted.
///
/// Only a known list of unordered types answers `true`: for any type it does
/// not recognize (including a type name format a future compiler might
/// print), the order is kept. That errs towards a needless re-run, never
/// towards a false cache hit.
fn is_unordered(type_name: &str) -> bool {
    let mut name = type_name;
    loop {
        // `&T`, `&mut T`, and the smart pointers and cells that serialize as
        // their content through the same serializer.
        if let Some(rest) = name.strip_prefix('&') {
            name = rest.strip_prefix("mut ").unwrap_or(rest);
            continue;
        }
        let Some((path, args)) = name.split_once('<') else {
            break;
        };
        let wrapper = matches!(
            path,
            "alloc::boxed::Box"
                | "alloc::rc::Rc"
                | "alloc::sync::Arc"
                | "alloc::borrow::Cow"
                | "core::cell::RefCell"
                | "core::cell::Cell"
        ) || (path.starts_with("std::sync::")
            && (path.ends_with("::Mutex") || path.ends_with("::RwLock")));
        if !wrapper {
            break;
        }
        name = skip_lifetimes(args);
    }
    let path = name.split_once('<').map_or(name, |(path, _)| path);
    let (Some((krate, _)), Some((_, last))) = (path.split_once("::"), path.rsplit_once("::"))
    else {
        return false;
    };
    match krate {
        "std" | "alloc" => matches!(
            last,
            "HashMap" | "HashSet" | "BTreeMap" | "BTreeSet" | "BinaryHeap"
        ),
        "hashbrown" => matches!(last, "HashMap" | "HashSet"),
        "ahash" => matches!(last, "AHashMap" | "AHashSet"),
        "dashmap" => matches!(last, "DashMap" | "DashSet"),
        "im" | "im_rc" | "imbl" => matches!(
            last,
            "HashMap" | "HashSet" | "OrdMap" | "OrdSet" | "GenericHashMap" | "GenericHashSet"
        ),
        _ => false,
    }
}

/// `'_, T` → `T`: `Cow<'_, T>` prints its lifetime first.
fn skip_lifetimes(mut args: &str) -> &str {
    while let Some(rest) = args.strip_prefix('\'') {
        args = rest
            .split_once(", ")
            .map_or("", |(_, after)| after)
            .trim_start();
    }
    args
}

/// The encoder's error: a message from a `Serialize` implementation.
#[derive(Debug)]
struct EncodeError(String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EncodeError {}

impl ser::Error for EncodeError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        Self(msg.to_string())
    }
}

type Res<T = ()> = Result<T, EncodeError>;

/// Everything one encoding shares, so that nested collections reuse buffers
/// instead of allocating per element.
struct State {
    /// The bytes written so far. Entries of unordered collections are
    /// written here too, then sorted in place when the collection ends.
    out: Vec<u8>,
    /// The `(start, end)` offsets in `out` of the entries of the unordered
    /// collections being written, innermost collection last.
    spans: Vec<(usize, usize)>,
    /// Room to reassemble sorted entries.
    scratch: Vec<u8>,
}

impl State {
    fn put_len(&mut self, len: usize) {
        self.out.extend_from_slice(&(len as u64).to_le_bytes());
    }

    fn put_name(&mut self, name: &str) {
        self.put_len(name.len());
        self.out.extend_from_slice(name.as_bytes());
    }

    /// Enum name, variant index and variant name, after the tag.
    fn put_variant(&mut self, tag: u8, name: &str, index: u32, variant: &str) {
        self.out.push(tag);
        self.put_name(name);
        self.out.extend_from_slice(&index.to_le_bytes());
        self.put_name(variant);
    }

    /// Encodes `value` with its own type deciding how its collections sort.
    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        value.serialize(Encoder {
            st: self,
            type_name: type_name::<T>(),
        })
    }

    /// Starts a compound value whose len is patched in at its end.
    fn compound(&mut self, unordered: bool) -> Compound<'_> {
        let len_at = self.out.len();
        self.put_len(0);
        let spans_from = unordered.then_some(self.spans.len());
        Compound {
            st: self,
            len_at,
            len: 0,
            spans_from,
            entry_start: None,
        }
    }
}

/// Serializes one value; `type_name` is its Rust type's name, used only to
/// tell unordered collections from ordered ones.
struct Encoder<'a> {
    st: &'a mut State,
    type_name: &'static str,
}

/// A seq, map, tuple or struct under way: counts its entries, and sorts
/// them at the end when it is unordered.
struct Compound<'a> {
    st: &'a mut State,
    /// Where the len placeholder is.
    len_at: usize,
    len: usize,
    /// For an unordered collection, where its spans start in `st.spans`.
    spans_from: Option<usize>,
    /// Where the current map entry's key starts, between key and value.
    entry_start: Option<usize>,
}

impl Compound<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        let start = self.st.out.len();
        self.st.value(value)?;
        self.len += 1;
        if self.spans_from.is_some() {
            let end = self.st.out.len();
            self.st.spans.push((start, end));
        }
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Res {
        self.st.put_name(key);
        self.st.value(value)?;
        self.len += 1;
        Ok(())
    }

    fn finish(self) -> Res {
        if self.entry_start.is_some() {
            return Err(EncodeError("map key without a value".into()));
        }
        let State {
            out,
            spans,
            scratch,
        } = self.st;
        out[self.len_at..self.len_at + 8].copy_from_slice(&(self.len as u64).to_le_bytes());
        if let Some(from) = self.spans_from {
            let entries = &mut spans[from..];
            // Entries are self-delimiting, so comparing whole entries orders
            // maps by key first, and equal bytes are interchangeable.
            entries.sort_unstable_by(|a, b| out[a.0..a.1].cmp(&out[b.0..b.1]));
            // The entries are contiguous right after the len.
            let region = self.len_at + 8;
            scratch.clear();
            for &(start, end) in entries.iter() {
                scratch.extend_from_slice(&out[start..end]);
            }
            out[region..].copy_from_slice(scratch);
            spans.truncate(from);
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        self.element(value)
    }
    fn end(self) -> Res {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        self.element(value)
    }
    fn end(self) -> Res {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        self.element(value)
    }
    fn end(self) -> Res {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        self.element(value)
    }
    fn end(self) -> Res {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Res {
        self.field(key, value)
    }
    fn end(self) -> Res {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Res {
        self.field(key, value)
    }
    fn end(self) -> Res {
        self.finish()
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Res {
        if self.entry_start.is_some() {
            return Err(EncodeError("map key without a value".into()));
        }
        self.entry_start = Some(self.st.out.len());
        self.st.value(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        let start = self
            .entry_start
            .take()
            .ok_or_else(|| EncodeError("map value without a key".into()))?;
        self.st.value(value)?;
        self.len += 1;
        if self.spans_from.is_some() {
            let end = self.st.out.len();
            self.st.spans.push((start, end));
        }
        Ok(())
    }
    fn end(self) -> Res {
        self.finish()
    }
}

macro_rules! fixed {
    ($($method:ident($ty:ty) => $tag:ident),* $(,)?) => {$(
        fn $method(self, v: $ty) -> Res {
            self.st.out.push($tag);
            self.st.out.extend_from_slice(&v.to_le_bytes());
            Ok(())
        }
    )*};
}

impl<'a> ser::Serializer for Encoder<'a> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fixed!(
        serialize_i8(i8) => I8,
        serialize_i16(i16) => I16,
        serialize_i32(i32) => I32,
        serialize_i64(i64) => I64,
        serialize_i128(i128) => I128,
        serialize_u8(u8) => U8,
        serialize_u16(u16) => U16,
        serialize_u32(u32) => U32,
        serialize_u64(u64) => U64,
        serialize_u128(u128) => U128,
    );

    fn serialize_bool(self, v: bool) -> Res {
        self.st.out.extend_from_slice(&[BOOL, u8::from(v)]);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Res {
        self.st.out.push(F32);
        self.st.out.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Res {
        self.st.out.push(F64);
        self.st.out.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Res {
        self.st.out.push(CHAR);
        self.st.out.extend_from_slice(&u32::from(v).to_le_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Res {
        self.st.out.push(STR);
        self.st.put_name(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Res {
        self.st.out.push(BYTES);
        self.st.put_len(v.len());
        self.st.out.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Res {
        self.st.out.push(NONE);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Res {
        self.st.out.push(SOME);
        self.st.value(value)
    }
    fn serialize_unit(self) -> Res {
        self.st.out.push(UNIT);
        Ok(())
    }
    fn serialize_unit_struct(self, name: &'static str) -> Res {
        self.st.out.push(UNIT_STRUCT);
        self.st.put_name(name);
        Ok(())
    }
    fn serialize_unit_variant(self, name: &'static str, index: u32, variant: &'static str) -> Res {
        self.st.put_variant(UNIT_VARIANT, name, index, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Res {
        self.st.out.push(NEWTYPE_STRUCT);
        self.st.put_name(name);
        self.st.value(value)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Res {
        self.st.put_variant(NEWTYPE_VARIANT, name, index, variant);
        self.st.value(value)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Res<Compound<'a>> {
        let unordered = is_unordered(self.type_name);
        self.st
            .out
            .push(if unordered { UNORDERED_SEQ } else { SEQ });
        Ok(self.st.compound(unordered))
    }
    fn serialize_tuple(self, _len: usize) -> Res<Compound<'a>> {
        self.st.out.push(TUPLE);
        Ok(self.st.compound(false))
    }
    fn serialize_tuple_struct(self, name: &'static str, _len: usize) -> Res<Compound<'a>> {
        self.st.out.push(TUPLE_STRUCT);
        self.st.put_name(name);
        Ok(self.st.compound(false))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Res<Compound<'a>> {
        self.st.put_variant(TUPLE_VARIANT, name, index, variant);
        Ok(self.st.compound(false))
    }
    fn serialize_map(self, _len: Option<usize>) -> Res<Compound<'a>> {
        let unordered = is_unordered(self.type_name);
        self.st
            .out
            .push(if unordered { UNORDERED_MAP } else { MAP });
        Ok(self.st.compound(unordered))
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Res<Compound<'a>> {
        self.st.out.push(STRUCT);
        self.st.put_name(name);
        Ok(self.st.compound(false))
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Res<Compound<'a>> {
        self.st.put_variant(STRUCT_VARIANT, name, index, variant);
        Ok(self.st.compound(false))
    }
    fn is_human_readable(&self) -> bool {
        // Types such as IP addresses and durations then pick their compact
        // form; either form would be deterministic, this one is shorter.
        false
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

    use serde::Serialize;

    use super::*;

    /// A `u64` len.
    fn len(n: u8) -> Vec<u8> {
        let mut v = vec![n];
        v.extend([0; 7]);
        v
    }

    /// A len-prefixed name.
    fn name(s: &str) -> Vec<u8> {
        let mut v = len(u8::try_from(s.len()).unwrap());
        v.extend(s.as_bytes());
        v
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn enc<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
        canonical_bytes(v).unwrap()
    }

    #[derive(Serialize)]
    struct Point {
        x: u8,
        label: String,
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Meters(u16);

    #[derive(Serialize)]
    struct Pair(u8, bool);

    #[derive(Serialize)]
    enum Op {
        Noop,
        Scale(u8),
        Shift(i8, i8),
        Clip { max: u16 },
    }

    #[test]
    fn golden_scalars() {
        assert_eq!(enc(&()), [UNIT]);
        assert_eq!(enc(&true), [BOOL, 1]);
        assert_eq!(enc(&false), [BOOL, 0]);
        assert_eq!(enc(&-1i8), [I8, 0xff]);
        assert_eq!(enc(&-1i16), [I16, 0xff, 0xff]);
        assert_eq!(enc(&-2i32), [I32, 0xfe, 0xff, 0xff, 0xff]);
        assert_eq!(enc(&1i64), cat(&[&[I64, 1], &[0; 7]]));
        assert_eq!(enc(&1i128), cat(&[&[I128, 1], &[0; 15]]));
        assert_eq!(enc(&7u8), [U8, 7]);
        assert_eq!(enc(&7u16), [U16, 7, 0]);
        assert_eq!(enc(&7u32), [U32, 7, 0, 0, 0]);
        assert_eq!(enc(&7u64), cat(&[&[U64, 7], &[0; 7]]));
        assert_eq!(enc(&u128::MAX), cat(&[&[U128], &[0xff; 16]]));
        assert_eq!(enc(&1.0f32), [F32, 0, 0, 0x80, 0x3f]);
        assert_eq!(enc(&1.0f64), [F64, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
        assert_eq!(enc(&'é'), [CHAR, 0xe9, 0, 0, 0]);
        assert_eq!(enc("ab"), cat(&[&[STR], &name("ab")]));
        assert_eq!(enc(&Bytes(&[0, 255])), cat(&[&[BYTES], &len(2), &[0, 255]]));
    }

    /// `&[u8]` serializes as a seq; this wrapper reaches `serialize_bytes`.
    struct Bytes<'a>(&'a [u8]);

    impl Serialize for Bytes<'_> {
        fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    #[test]
    fn golden_structs_and_enums() {
        assert_eq!(enc(&Unit), cat(&[&[UNIT_STRUCT], &name("Unit")]));
        assert_eq!(
            enc(&Meters(2)),
            cat(&[&[NEWTYPE_STRUCT], &name("Meters"), &[U16, 2, 0]])
        );
        assert_eq!(
            enc(&Pair(1, true)),
            cat(&[&[TUPLE_STRUCT], &name("Pair"), &len(2), &[U8, 1, BOOL, 1]])
        );
        let p = Point {
            x: 1,
            label: "z".into(),
        };
        assert_eq!(
            enc(&p),
            cat(&[
                &[STRUCT],
                &name("Point"),
                &len(2),
                &name("x"),
                &[U8, 1],
                &name("label"),
                &[STR],
                &name("z"),
            ])
        );
        let variant =
            |tag: u8, index: u8, v: &str| cat(&[&[tag], &name("Op"), &[index, 0, 0, 0], &name(v)]);
        assert_eq!(enc(&Op::Noop), variant(UNIT_VARIANT, 0, "Noop"));
        assert_eq!(
            enc(&Op::Scale(5)),
            cat(&[&variant(NEWTYPE_VARIANT, 1, "Scale"), &[U8, 5]])
        );
        assert_eq!(
            enc(&Op::Shift(1, -1)),
            cat(&[
                &variant(TUPLE_VARIANT, 2, "Shift"),
                &len(2),
                &[I8, 1, I8, 0xff]
            ])
        );
        assert_eq!(
            enc(&Op::Clip { max: 1 }),
            cat(&[
                &variant(STRUCT_VARIANT, 3, "Clip"),
                &len(1),
                &name("max"),
                &[U16, 1, 0]
            ])
        );
    }

    #[test]
    fn golden_containers() {
        assert_eq!(enc(&None::<u8>), [NONE]);
        assert_eq!(enc(&Some(3u8)), [SOME, U8, 3]);
        assert_eq!(
            enc(&(1u8, 'a')),
            cat(&[&[TUPLE], &len(2), &[U8, 1, CHAR, b'a', 0, 0, 0]])
        );
        assert_eq!(enc(&[1u8, 2]), cat(&[&[TUPLE], &len(2), &[U8, 1, U8, 2]]));
        assert_eq!(
            enc(&vec![2u16, 1]),
            cat(&[&[SEQ], &len(2), &[U16, 2, 0, U16, 1, 0]])
        );
        assert_eq!(
            enc(&HashSet::from([2u16, 1, 3])),
            cat(&[
                &[UNORDERED_SEQ],
                &len(3),
                &[U16, 1, 0, U16, 2, 0, U16, 3, 0]
            ])
        );
        assert_eq!(enc(&Vec::<u8>::new()), cat(&[&[SEQ], &len(0)]));
        assert_eq!(
            enc(&HashSet::<u8>::new()),
            cat(&[&[UNORDERED_SEQ], &len(0)])
        );
    }

    #[test]
    fn golden_hashmap_sorted_by_encoded_key() {
        let m: HashMap<&str, u8> = [("c", 3), ("aa", 1), ("b", 2)].into();
        // Sorted by encoded bytes: the length comes before the text, so "b"
        // and "c" (length 1) precede "aa" (length 2).
        let entry = |k: &str, v: u8| cat(&[&[STR], &name(k), &[U8, v]]);
        let expected = cat(&[
            &[UNORDERED_MAP],
            &len(3),
            &entry("b", 2),
            &entry("c", 3),
            &entry("aa", 1),
        ]);
        assert_eq!(enc(&m), expected);
        // A BTreeMap with the same content is the same unordered map.
        let b: BTreeMap<&str, u8> = [("c", 3), ("aa", 1), ("b", 2)].into();
        assert_eq!(enc(&b), expected);
    }

    #[test]
    fn golden_nested_unordered() {
        let inner_a: HashMap<u8, HashSet<u8>> = [(2, [9, 8].into()), (0, HashSet::new())].into();
        let inner_b: HashMap<u8, HashSet<u8>> = [(1, [7].into())].into();
        let m: HashMap<u8, HashMap<u8, HashSet<u8>>> = [(9, inner_a), (4, inner_b)].into();
        let set = |items: &[u8]| {
            let mut v = vec![UNORDERED_SEQ];
            v.extend(len(u8::try_from(items.len()).unwrap()));
            for &i in items {
                v.extend([U8, i]);
            }
            v
        };
        let expected = cat(&[
            &[UNORDERED_MAP],
            &len(2),
            &[U8, 4],
            &[UNORDERED_MAP],
            &len(1),
            &[U8, 1],
            &set(&[7]),
            &[U8, 9],
            &[UNORDERED_MAP],
            &len(2),
            &[U8, 0],
            &set(&[]),
            &[U8, 2],
            &set(&[8, 9]),
        ]);
        assert_eq!(enc(&m), expected);
    }

    #[test]
    fn lens_count_what_was_written() {
        #[derive(Serialize)]
        struct Opts {
            #[serde(skip_serializing_if = "Option::is_none")]
            low: Option<u8>,
            #[serde(skip_serializing_if = "Option::is_none")]
            high: Option<u8>,
        }
        let low = enc(&Opts {
            low: Some(1),
            high: None,
        });
        assert_eq!(
            low,
            cat(&[
                &[STRUCT],
                &name("Opts"),
                &len(1),
                &name("low"),
                &[SOME, U8, 1]
            ])
        );

        // A seq that announces no length still gets its count.
        struct Unsized;
        impl Serialize for Unsized {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use ser::SerializeSeq;
                let mut seq = s.serialize_seq(None)?;
                seq.serialize_element(&1u8)?;
                seq.serialize_element(&2u8)?;
                seq.end()
            }
        }
        assert_eq!(enc(&Unsized), cat(&[&[SEQ], &len(2), &[U8, 1, U8, 2]]));
    }

    #[test]
    fn classification_of_type_names() {
        use std::any::type_name;
        use std::borrow::Cow;
        use std::cell::RefCell;
        use std::collections::BinaryHeap;
        use std::rc::Rc;
        use std::sync::{Arc, Mutex, RwLock};
        type Alias = HashSet<String>;

        let unordered = [
            type_name::<HashMap<u8, u8>>(),
            type_name::<HashSet<u8>>(),
            type_name::<BTreeMap<u8, u8>>(),
            type_name::<BTreeSet<u8>>(),
            type_name::<BinaryHeap<u8>>(),
            type_name::<Alias>(),
            type_name::<&HashSet<u8>>(),
            type_name::<&mut &HashSet<u8>>(),
            type_name::<Box<HashSet<u8>>>(),
            type_name::<Rc<HashSet<u8>>>(),
            type_name::<Arc<Box<HashMap<u8, u8>>>>(),
            type_name::<Cow<'static, HashSet<u8>>>(),
            type_name::<RefCell<HashSet<u8>>>(),
            type_name::<Mutex<HashSet<u8>>>(),
            type_name::<RwLock<HashSet<u8>>>(),
            "hashbrown::map::HashMap<u8, u8>",
            "hashbrown::set::HashSet<u8>",
            "ahash::hash_map::AHashMap<u8, u8>",
            "dashmap::DashMap<u8, u8>",
            "im::ordset::OrdSet<u8>",
        ];
        for name in unordered {
            assert!(is_unordered(name), "{name} should be unordered");
        }
        let ordered = [
            type_name::<Vec<HashSet<u8>>>(),
            type_name::<[HashSet<u8>; 2]>(),
            type_name::<&[u8]>(),
            type_name::<Option<HashSet<u8>>>(),
            type_name::<std::collections::VecDeque<u8>>(),
            type_name::<indexmap::IndexMap<u8, u8>>(),
            type_name::<indexmap::IndexSet<u8>>(),
            type_name::<Box<Vec<u8>>>(),
            type_name::<Point>(),
            "my_crate::HashMap<u8, u8>",
            "HashMap<u8, u8>",
            "",
        ];
        for name in ordered {
            assert!(!is_unordered(name), "{name} should keep its order");
        }
    }

    #[test]
    fn floats_by_bits() {
        assert_ne!(enc(&0.0f64), enc(&-0.0f64));
        assert_eq!(enc(&f64::NAN), enc(&f64::NAN));
        assert_ne!(enc(&1.0f32), enc(&1.0f64));
    }

    #[test]
    fn serialize_errors_name_the_param() {
        struct Broken;
        impl Serialize for Broken {
            fn serialize<S: ser::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(ser::Error::custom("not encodable"))
            }
        }
        let err = encode_arg("columns", &Broken).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot encode argument `columns`: not encodable"
        );
        // A failure deep inside the value reaches the caller too.
        let err = encode_arg("nested", &vec![Some(Broken)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot encode argument `nested`: not encodable"
        );
    }

    #[test]
    fn malformed_maps_are_errors() {
        use ser::SerializeMap;
        struct ValueFirst;
        impl Serialize for ValueFirst {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                m.serialize_value(&1u8)?;
                m.end()
            }
        }
        struct KeyOnly;
        impl Serialize for KeyOnly {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                m.serialize_key(&1u8)?;
                m.end()
            }
        }
        assert_eq!(
            encode_arg("m", &ValueFirst).unwrap_err().to_string(),
            "cannot encode argument `m`: map value without a key"
        );
        assert_eq!(
            encode_arg("m", &KeyOnly).unwrap_err().to_string(),
            "cannot encode argument `m`: map key without a value"
        );
    }
}

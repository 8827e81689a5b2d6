//! The canonical encoding of creator arguments.
//!
//! The encoding is bincode 1.3's default layout (fixed-width little-endian
//! integers, `u64` length prefixes, `u32` variant indices), with two changes
//! that make it deterministic across processes (DESIGN.md, invariant 7):
//!
//! - every map is written with its entries sorted by the encoded bytes of
//!   their keys, because `HashMap` iterates in a random order per process;
//! - sequences the caller marks as sets (see [`Shape`]) are written with
//!   their elements sorted by their encoded bytes.
//!
//! For a value without maps or marked sets the bytes are exactly
//! `bincode::serialize(value)`, which the tests check.
//!
//! # Sets
//! A `HashSet` serializes through `serialize_seq`, exactly like a `Vec`, so a
//! serializer cannot tell them apart. Sorting every sequence would make
//! `vec![1, 2]` and `vec![2, 1]` collide, a false cache hit, so sets are
//! sorted only where the type says so:
//! - `#[file_creator]` reads each argument's type and passes a [`Shape`] when
//!   a `HashSet` or `BTreeSet` appears at the top level or inside `Option`,
//!   `Vec`, slices, arrays, `Box`/`Rc`/`Arc` or as a map value;
//! - inside your own types, put `#[serde(serialize_with =
//!   "lake_core::key::sorted_set")]` on each `HashSet` field (see
//!   [`sorted_set`]).
//!
//! The macro reads syntax, not types: a set hidden behind a type alias, in a
//! tuple, or in a struct field without [`sorted_set`] is encoded in iteration
//! order, and a `HashSet` there gives a different key in every process. Use a
//! `BTreeSet` or [`sorted_set`] in those places.
//!
//! # Floats
//! Floats are encoded by their bits, so `-0.0` and `0.0` give different keys,
//! and so do NaNs with different payloads. Normalize them before the call if
//! that matters to you.

use std::fmt;

use serde::ser::{self, Serialize, SerializeSeq};

use crate::error::Error;

/// Where the sets are in an argument's type, so that the encoder can sort
/// them.
///
/// A `Shape` mirrors the outer structure of a type down to its sets.
/// Anything that is not described (struct fields, tuple elements) is
/// [`Shape::Opaque`]: encoded as is, with maps sorted.
///
/// If a shape does not match the value (say, [`Shape::Set`] for a value that
/// serializes as a map), that level is treated as [`Shape::Opaque`].
///
/// # Example
/// ```
/// use std::collections::HashSet;
/// use lake_core::key::{canonical_bytes_with_shape, Shape};
///
/// let a: HashSet<u32> = (0..100).collect();
/// let b: HashSet<u32> = (0..100).rev().collect();
/// let shape = Shape::Set(&Shape::Opaque);
/// assert_eq!(
///     canonical_bytes_with_shape(&a, &shape)?,
///     canonical_bytes_with_shape(&b, &shape)?,
/// );
/// # Ok::<(), lake_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Shape {
    /// No sets known at this level; maps are still sorted.
    Opaque,
    /// A set: elements are sorted by their encoded bytes.
    Set(&'static Shape),
    /// A list (`Vec`, slice, array): order is kept, elements have this shape.
    Seq(&'static Shape),
    /// An `Option` whose content has this shape.
    Option(&'static Shape),
    /// A map whose values have this shape (keys are always sorted).
    MapValues(&'static Shape),
}

/// Encodes `value` canonically, with every map sorted by its encoded keys.
///
/// Sequences are kept in order; see [`canonical_bytes_with_shape`] for sets.
///
/// # Errors
/// [`Error::Encode`] (with `param` set to `"value"`) when `value`'s
/// `Serialize` implementation fails.
///
/// # Example
/// ```
/// use std::collections::HashMap;
/// use lake_core::key::canonical_bytes;
///
/// let a: HashMap<&str, u8> = [("x", 1), ("y", 2)].into();
/// let b: HashMap<&str, u8> = [("y", 2), ("x", 1)].into();
/// assert_eq!(canonical_bytes(&a)?, canonical_bytes(&b)?);
/// # Ok::<(), lake_core::Error>(())
/// ```
pub fn canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    canonical_bytes_with_shape(value, &Shape::Opaque)
}

/// Encodes `value` canonically, sorting the sets that `shape` points at.
///
/// # Errors
/// [`Error::Encode`] (with `param` set to `"value"`) when `value`'s
/// `Serialize` implementation fails.
pub fn canonical_bytes_with_shape<T: Serialize + ?Sized>(
    value: &T,
    shape: &Shape,
) -> Result<Vec<u8>, Error> {
    encode_arg("value", value, shape)
}

/// Encodes the argument `param` canonically; errors name `param`.
///
/// This is what the runtime calls for each argument of a run.
///
/// # Errors
/// [`Error::Encode`] when `value`'s `Serialize` implementation fails.
pub fn encode_arg<T: Serialize + ?Sized>(
    param: &str,
    value: &T,
    shape: &Shape,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    value
        .serialize(Encoder {
            out: &mut out,
            shape,
        })
        .map_err(|e| Error::Encode {
            param: param.to_owned(),
            message: e.0,
        })?;
    Ok(out)
}

/// A `serialize_with` helper that writes a set in a deterministic order.
///
/// Elements are sorted by their canonical bytes, so the order is the same in
/// every process, with any serializer (the canonical encoding, JSON, …).
/// Use it on each `HashSet` field of your own argument types; the macro cannot
/// see inside them.
///
/// # Example
/// ```
/// use std::collections::HashSet;
/// use lake_core::key::canonical_bytes;
///
/// #[derive(serde::Serialize)]
/// struct Filter {
///     #[serde(serialize_with = "lake_core::key::sorted_set")]
///     countries: HashSet<String>,
/// }
///
/// let a = Filter { countries: ["fr", "de", "it"].map(String::from).into() };
/// let b = Filter { countries: ["it", "fr", "de"].map(String::from).into() };
/// assert_eq!(canonical_bytes(&a)?, canonical_bytes(&b)?);
/// # Ok::<(), lake_core::Error>(())
/// ```
pub fn sorted_set<'a, I, T, S>(set: &'a I, serializer: S) -> Result<S::Ok, S::Error>
where
    I: ?Sized,
    &'a I: IntoIterator<Item = &'a T>,
    T: Serialize + 'a,
    S: ser::Serializer,
{
    let mut items = set
        .into_iter()
        .map(|item| {
            let bytes = canonical_bytes(item).map_err(ser::Error::custom)?;
            Ok((bytes, item))
        })
        .collect::<Result<Vec<_>, S::Error>>()?;
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let mut seq = serializer.serialize_seq(Some(items.len()))?;
    for (_, item) in items {
        seq.serialize_element(item)?;
    }
    seq.end()
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

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    shape: &'a Shape,
}

fn write_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

fn encode_one<T: Serialize + ?Sized>(value: &T, shape: &Shape) -> Res<Vec<u8>> {
    let mut out = Vec::new();
    value.serialize(Encoder {
        out: &mut out,
        shape,
    })?;
    Ok(out)
}

/// Sequences are buffered element by element: sets need sorting, and a
/// sequence of unknown length still gets its length prefix.
struct SeqEncoder<'a> {
    out: &'a mut Vec<u8>,
    elem: &'a Shape,
    sort: bool,
    items: Vec<Vec<u8>>,
}

impl SeqEncoder<'_> {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        self.items.push(encode_one(value, self.elem)?);
        Ok(())
    }

    fn finish(mut self) -> Res {
        if self.sort {
            self.items.sort();
        }
        write_len(self.out, self.items.len());
        for item in self.items {
            self.out.extend_from_slice(&item);
        }
        Ok(())
    }
}

impl ser::SerializeSeq for SeqEncoder<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        self.push(value)
    }
    fn end(self) -> Res {
        self.finish()
    }
}

/// Maps are buffered and written sorted by encoded key; ties (distinct keys
/// with equal bytes) are broken by the value so the order stays total.
struct MapEncoder<'a> {
    out: &'a mut Vec<u8>,
    value: &'a Shape,
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    key: Option<Vec<u8>>,
}

impl ser::SerializeMap for MapEncoder<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Res {
        self.key = Some(encode_one(key, &Shape::Opaque)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        let key = self
            .key
            .take()
            .ok_or_else(|| EncodeError("map value without a key".into()))?;
        self.entries.push((key, encode_one(value, self.value)?));
        Ok(())
    }
    fn end(mut self) -> Res {
        self.entries.sort();
        write_len(self.out, self.entries.len());
        for (k, v) in self.entries {
            self.out.extend_from_slice(&k);
            self.out.extend_from_slice(&v);
        }
        Ok(())
    }
}

/// Tuples, structs and variants are written field after field, with no
/// shape information below them.
struct Fields<'a> {
    out: &'a mut Vec<u8>,
}

impl Fields<'_> {
    fn field<T: Serialize + ?Sized>(&mut self, value: &T) -> Res {
        value.serialize(Encoder {
            out: self.out,
            shape: &Shape::Opaque,
        })
    }
}

macro_rules! impl_fields {
    ($($trait:ident :: $method:ident ($($key:ident)?)),*) => {$(
        impl ser::$trait for Fields<'_> {
            type Ok = ();
            type Error = EncodeError;
            fn $method<T: Serialize + ?Sized>(
                &mut self,
                $($key: &'static str,)?
                value: &T,
            ) -> Res {
                self.field(value)
            }
            fn end(self) -> Res {
                Ok(())
            }
        }
    )*};
}

impl_fields!(
    SerializeTuple::serialize_element(),
    SerializeTupleStruct::serialize_field(),
    SerializeTupleVariant::serialize_field(),
    SerializeStruct::serialize_field(_key),
    SerializeStructVariant::serialize_field(_key)
);

impl<'a> ser::Serializer for Encoder<'a> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = SeqEncoder<'a>;
    type SerializeTuple = Fields<'a>;
    type SerializeTupleStruct = Fields<'a>;
    type SerializeTupleVariant = Fields<'a>;
    type SerializeMap = MapEncoder<'a>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = Fields<'a>;

    fn serialize_bool(self, v: bool) -> Res {
        self.out.push(u8::from(v));
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Res {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Res {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Res {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Res {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Res {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Res {
        self.out.push(v);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Res {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Res {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Res {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Res {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Res {
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Res {
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Res {
        // bincode 1.3 writes a char as its UTF-8 bytes, without a length.
        let mut buf = [0; 4];
        self.out
            .extend_from_slice(v.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Res {
        self.serialize_bytes(v.as_bytes())
    }
    fn serialize_bytes(self, v: &[u8]) -> Res {
        write_len(self.out, v.len());
        self.out.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Res {
        self.out.push(0);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Res {
        self.out.push(1);
        let shape = match self.shape {
            Shape::Option(inner) => *inner,
            _ => &Shape::Opaque,
        };
        value.serialize(Encoder {
            out: self.out,
            shape,
        })
    }
    fn serialize_unit(self) -> Res {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Res {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
    ) -> Res {
        self.serialize_u32(index)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Res {
        // A newtype is transparent in bincode, so its shape passes through.
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        value: &T,
    ) -> Res {
        self.out.extend_from_slice(&index.to_le_bytes());
        value.serialize(Encoder {
            out: self.out,
            shape: &Shape::Opaque,
        })
    }
    fn serialize_seq(self, _len: Option<usize>) -> Res<SeqEncoder<'a>> {
        let (elem, sort) = match self.shape {
            Shape::Set(elem) => (*elem, true),
            Shape::Seq(elem) => (*elem, false),
            _ => (&Shape::Opaque, false),
        };
        Ok(SeqEncoder {
            out: self.out,
            elem,
            sort,
            items: Vec::new(),
        })
    }
    fn serialize_tuple(self, _len: usize) -> Res<Fields<'a>> {
        Ok(Fields { out: self.out })
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Res<Fields<'a>> {
        Ok(Fields { out: self.out })
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Res<Fields<'a>> {
        self.out.extend_from_slice(&index.to_le_bytes());
        Ok(Fields { out: self.out })
    }
    fn serialize_map(self, _len: Option<usize>) -> Res<MapEncoder<'a>> {
        let value = match self.shape {
            Shape::MapValues(value) => *value,
            _ => &Shape::Opaque,
        };
        Ok(MapEncoder {
            out: self.out,
            value,
            entries: Vec::new(),
            key: None,
        })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Res<Fields<'a>> {
        Ok(Fields { out: self.out })
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Res<Fields<'a>> {
        self.out.extend_from_slice(&index.to_le_bytes());
        Ok(Fields { out: self.out })
    }
    fn is_human_readable(&self) -> bool {
        // bincode is not human readable; types such as IP addresses pick
        // their compact form, which keeps us byte-compatible with it.
        false
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::RandomState;
    use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

    use serde::Serialize;

    use super::*;

    /// A `u64` length prefix.
    fn len(n: u8) -> Vec<u8> {
        let mut v = vec![n];
        v.extend([0; 7]);
        v
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[derive(Serialize)]
    struct Point {
        x: u8,
        label: String,
    }

    #[derive(Serialize)]
    enum Op {
        Noop,
        Scale(u8),
        Clip { max: u16 },
    }

    #[test]
    fn golden_scalars() {
        assert_eq!(canonical_bytes(&7u32).unwrap(), [7, 0, 0, 0]);
        assert_eq!(canonical_bytes(&-1i16).unwrap(), [0xff, 0xff]);
        assert_eq!(canonical_bytes(&true).unwrap(), [1]);
        assert_eq!(canonical_bytes(&'é').unwrap(), [0xc3, 0xa9]);
        assert_eq!(
            canonical_bytes(&1.0f64).unwrap(),
            [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]
        );
        assert_eq!(canonical_bytes("ab").unwrap(), cat(&[&len(2), b"ab"]));
    }

    #[test]
    fn golden_containers() {
        assert_eq!(
            canonical_bytes(&vec![1u16, 2]).unwrap(),
            cat(&[&len(2), &[1, 0, 2, 0]])
        );
        assert_eq!(canonical_bytes(&Some(3u8)).unwrap(), [1, 3]);
        assert_eq!(canonical_bytes(&None::<u8>).unwrap(), [0]);
        assert_eq!(canonical_bytes(&(1u8, 2u8)).unwrap(), [1, 2]);
        let p = Point {
            x: 1,
            label: "z".into(),
        };
        assert_eq!(canonical_bytes(&p).unwrap(), cat(&[&[1], &len(1), b"z"]));
        assert_eq!(canonical_bytes(&Op::Noop).unwrap(), [0, 0, 0, 0]);
        assert_eq!(canonical_bytes(&Op::Scale(5)).unwrap(), [1, 0, 0, 0, 5]);
        assert_eq!(
            canonical_bytes(&Op::Clip { max: 1 }).unwrap(),
            [2, 0, 0, 0, 1, 0]
        );
    }

    #[test]
    fn golden_hashmap_sorted_by_encoded_key() {
        let m: HashMap<&str, u8> = [("c", 3), ("aa", 1), ("b", 2)].into();
        // Sorted by encoded bytes: the length prefix comes first, so "b"
        // and "c" (length 1) precede "aa" (length 2).
        let expected = cat(&[
            &len(3),
            &len(1),
            b"b",
            &[2],
            &len(1),
            b"c",
            &[3],
            &len(2),
            b"aa",
            &[1],
        ]);
        assert_eq!(canonical_bytes(&m).unwrap(), expected);
    }

    #[test]
    fn golden_nested_map() {
        let inner_a: HashMap<u8, u8> = [(2, 20), (0, 0)].into();
        let inner_b: HashMap<u8, u8> = [(1, 10)].into();
        let m: HashMap<u8, HashMap<u8, u8>> = [(9, inner_a), (4, inner_b)].into();
        let expected = cat(&[
            &len(2),
            &[4],
            &len(1),
            &[1, 10],
            &[9],
            &len(2),
            &[0, 0, 2, 20],
        ]);
        assert_eq!(canonical_bytes(&m).unwrap(), expected);
    }

    #[test]
    fn matches_bincode_without_maps() {
        fn same<T: Serialize>(v: &T) {
            assert_eq!(canonical_bytes(v).unwrap(), bincode::serialize(v).unwrap());
        }
        same(&(1u8, -2i64, 3.5f32, u128::MAX, 'x', "text", ()));
        same(&vec![Some(vec![1u32]), None]);
        same(&Op::Clip { max: 300 });
        same(&Point {
            x: 9,
            label: "p".into(),
        });
        same(&[1u8, 2, 3]);
        same(&serde_bytes_like());
        // A BTreeMap is already sorted by key, and small integer keys sort
        // the same by value and by little-endian bytes.
        same(&BTreeMap::from([(1u8, "a"), (2, "b")]));
    }

    fn serde_bytes_like() -> Vec<u8> {
        vec![0, 255, 7]
    }

    #[test]
    fn hashmap_independent_of_insertion_order_and_hasher() {
        let pairs: Vec<(String, Vec<u32>)> = (0..200).map(|i| (format!("k{i}"), vec![i])).collect();
        let mut a = HashMap::with_hasher(RandomState::new());
        for (k, v) in &pairs {
            a.insert(k.clone(), v.clone());
        }
        let mut b = HashMap::with_hasher(RandomState::new());
        for (k, v) in pairs.iter().rev() {
            b.insert(k.clone(), v.clone());
        }
        assert_eq!(canonical_bytes(&a).unwrap(), canonical_bytes(&b).unwrap());
        // The same content as a BTreeMap, whose order differs from the
        // encoded-bytes order for these keys, also encodes identically.
        let c: BTreeMap<_, _> = pairs.into_iter().collect();
        assert_eq!(canonical_bytes(&a).unwrap(), canonical_bytes(&c).unwrap());
    }

    #[test]
    fn sets_sorted_only_where_shape_says() {
        let a: HashSet<u32> = (0..300).collect();
        let b: HashSet<u32> = (0..300).rev().collect();
        let set = Shape::Set(&Shape::Opaque);
        assert_eq!(
            canonical_bytes_with_shape(&a, &set).unwrap(),
            canonical_bytes_with_shape(&b, &set).unwrap()
        );
        let sorted: BTreeSet<u32> = (0..300).collect();
        // The macro marks a `BTreeSet` as a set too, so switching between
        // the two keeps the key.
        assert_eq!(
            canonical_bytes_with_shape(&a, &set).unwrap(),
            canonical_bytes_with_shape(&sorted, &set).unwrap()
        );
        // Lists keep their order: sorting them would make different calls
        // share a key.
        assert_ne!(
            canonical_bytes(&vec![2u8, 1]).unwrap(),
            canonical_bytes(&vec![1u8, 2]).unwrap()
        );
    }

    #[test]
    fn nested_set_shapes() {
        let make = |rev: bool| {
            let mut s: HashSet<String> = HashSet::with_hasher(RandomState::new());
            let items: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
            if rev {
                s.extend(items.into_iter().rev());
            } else {
                s.extend(items);
            }
            s
        };
        let opt = Shape::Option(&Shape::Set(&Shape::Opaque));
        assert_eq!(
            canonical_bytes_with_shape(&Some(make(false)), &opt).unwrap(),
            canonical_bytes_with_shape(&Some(make(true)), &opt).unwrap()
        );
        let seq = Shape::Seq(&Shape::Set(&Shape::Opaque));
        assert_eq!(
            canonical_bytes_with_shape(&vec![make(false)], &seq).unwrap(),
            canonical_bytes_with_shape(&vec![make(true)], &seq).unwrap()
        );
        let map = Shape::MapValues(&Shape::Set(&Shape::Opaque));
        let m1: HashMap<u8, HashSet<String>> = [(1, make(false))].into();
        let m2: HashMap<u8, HashSet<String>> = [(1, make(true))].into();
        assert_eq!(
            canonical_bytes_with_shape(&m1, &map).unwrap(),
            canonical_bytes_with_shape(&m2, &map).unwrap()
        );
    }

    #[test]
    fn sorted_set_field_helper() {
        #[derive(Serialize)]
        struct Filter {
            #[serde(serialize_with = "sorted_set")]
            tags: HashSet<String>,
        }
        let a = Filter {
            tags: (0..40).map(|i| i.to_string()).collect(),
        };
        let b = Filter {
            tags: (0..40).rev().map(|i| i.to_string()).collect(),
        };
        assert_eq!(canonical_bytes(&a).unwrap(), canonical_bytes(&b).unwrap());
    }

    #[test]
    fn floats_by_bits() {
        assert_ne!(
            canonical_bytes(&0.0f64).unwrap(),
            canonical_bytes(&-0.0f64).unwrap()
        );
        assert_eq!(
            canonical_bytes(&f64::NAN).unwrap(),
            canonical_bytes(&f64::NAN).unwrap()
        );
    }

    #[test]
    fn serialize_errors_name_the_param() {
        struct Broken;
        impl Serialize for Broken {
            fn serialize<S: ser::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(ser::Error::custom("not encodable"))
            }
        }
        let err = encode_arg("columns", &Broken, &Shape::Opaque).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot encode argument `columns`: not encodable"
        );
    }
}

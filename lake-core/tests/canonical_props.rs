//! Property tests of the canonical encoding, over random nested serde
//! values: every form of serde's data model, tagged and untagged enums,
//! options, floats, and sets and maps of several kinds, nested in each
//! other.
//!
//! - Equal values built differently (insertion order, a fresh random hasher
//!   per set) give equal bytes.
//! - Every single mutation (a leaf's value or type, a name, a variant, an
//!   element added, removed or moved) gives different bytes.
//! - Two random values give equal bytes exactly when they are equal.
//!
//! `LAKE_PROPTEST_CASES` sets the number of cases of each property (default
//! 10 000). See: issue 10.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use indexmap::{IndexMap, IndexSet};
use lake_core::key::canonical_bytes;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde::ser::{
    SerializeStruct, SerializeStructVariant, SerializeTuple, SerializeTupleStruct,
    SerializeTupleVariant,
};
use serde::{Serialize, Serializer};

/// Names of structs, fields, enums and variants. Few, so that random values
/// often share them and differ in one place only.
const NAMES: [&str; 5] = ["", "a", "b", "ab", "Point"];

/// The collection types a value can be written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum SetKind {
    Hash,
    BTree,
    Heap,
    /// `IndexSet`: ordered, like a `Vec`.
    Index,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum MapKind {
    Hash,
    BTree,
    /// `IndexMap`: ordered.
    Index,
}

/// An enum variant: enum name, variant index, variant name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Var(&'static str, u32, &'static str);

/// A value of serde's data model. Floats are held as bits so that values
/// compare exactly as the encoding does (`-0.0 != 0.0`, NaN == NaN).
///
/// A value without a variant of its own (an untagged enum's) is just its
/// content, so "untagged" is covered by changing a leaf's type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Model {
    Unit,
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    I128(i128),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    U128(u128),
    F32(u32),
    F64(u64),
    Char(char),
    Str(String),
    Bytes(Vec<u8>),
    None,
    Some(Box<Model>),
    UnitStruct(&'static str),
    NewtypeStruct(&'static str, Box<Model>),
    Tuple(Vec<Model>),
    TupleStruct(&'static str, Vec<Model>),
    Struct(&'static str, Vec<(&'static str, Model)>),
    UnitVariant(Var),
    NewtypeVariant(Var, Box<Model>),
    TupleVariant(Var, Vec<Model>),
    StructVariant(Var, Vec<(&'static str, Model)>),
    /// A `Vec`.
    Seq(Vec<Model>),
    /// A set (or multiset) of one of the kinds, built in this order.
    Set(SetKind, Vec<Model>),
    /// A map of one of the kinds, built in this order.
    Map(MapKind, Vec<(Model, Model)>),
}

/// An element of a real collection. Equality and hashing use the position
/// in the model only, so equal elements may repeat and the collection holds
/// exactly the model's elements; the encoder sees only their content.
struct Keyed<'a>(usize, &'a Model);

impl PartialEq for Keyed<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for Keyed<'_> {}
impl PartialOrd for Keyed<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Keyed<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}
impl Hash for Keyed<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}
impl Serialize for Keyed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.1.serialize(s)
    }
}

fn keyed(items: &[Model]) -> impl Iterator<Item = Keyed<'_>> {
    items.iter().enumerate().map(|(i, m)| Keyed(i, m))
}

fn keyed_pairs(entries: &[(Model, Model)]) -> impl Iterator<Item = (Keyed<'_>, Keyed<'_>)> {
    entries
        .iter()
        .enumerate()
        .map(|(i, (k, v))| (Keyed(i, k), Keyed(i, v)))
}

/// Runs `$body` with `$v` bound to the real collection a model stands for
/// (a new `HashSet` with a new random hasher, a `BTreeMap`, …), or to the
/// model itself. The encoder decides sorting from the type it is handed, so
/// a parent must hand it the collection, not the model.
macro_rules! typed {
    ($m:expr, |$v:ident| $body:expr) => {{
        let m: &Model = $m;
        match m {
            Model::Seq(items) => {
                let $v = items;
                $body
            }
            Model::Set(SetKind::Hash, items) => {
                let c: HashSet<Keyed> = keyed(items).collect();
                let $v = &c;
                $body
            }
            Model::Set(SetKind::BTree, items) => {
                let c: BTreeSet<Keyed> = keyed(items).collect();
                let $v = &c;
                $body
            }
            Model::Set(SetKind::Heap, items) => {
                let c: BinaryHeap<Keyed> = keyed(items).collect();
                let $v = &c;
                $body
            }
            Model::Set(SetKind::Index, items) => {
                let c: IndexSet<Keyed> = keyed(items).collect();
                let $v = &c;
                $body
            }
            Model::Map(MapKind::Hash, entries) => {
                let c: HashMap<Keyed, Keyed> = keyed_pairs(entries).collect();
                let $v = &c;
                $body
            }
            Model::Map(MapKind::BTree, entries) => {
                let c: BTreeMap<Keyed, Keyed> = keyed_pairs(entries).collect();
                let $v = &c;
                $body
            }
            Model::Map(MapKind::Index, entries) => {
                let c: IndexMap<Keyed, Keyed> = keyed_pairs(entries).collect();
                let $v = &c;
                $body
            }
            other => {
                let $v = other;
                $body
            }
        }
    }};
}

impl Serialize for Model {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Model::Unit => s.serialize_unit(),
            Model::Bool(v) => s.serialize_bool(*v),
            Model::I8(v) => s.serialize_i8(*v),
            Model::I16(v) => s.serialize_i16(*v),
            Model::I32(v) => s.serialize_i32(*v),
            Model::I64(v) => s.serialize_i64(*v),
            Model::I128(v) => s.serialize_i128(*v),
            Model::U8(v) => s.serialize_u8(*v),
            Model::U16(v) => s.serialize_u16(*v),
            Model::U32(v) => s.serialize_u32(*v),
            Model::U64(v) => s.serialize_u64(*v),
            Model::U128(v) => s.serialize_u128(*v),
            Model::F32(bits) => s.serialize_f32(f32::from_bits(*bits)),
            Model::F64(bits) => s.serialize_f64(f64::from_bits(*bits)),
            Model::Char(v) => s.serialize_char(*v),
            Model::Str(v) => s.serialize_str(v),
            Model::Bytes(v) => s.serialize_bytes(v),
            Model::None => s.serialize_none(),
            Model::Some(v) => typed!(v, |v| s.serialize_some(v)),
            Model::UnitStruct(name) => s.serialize_unit_struct(name),
            Model::NewtypeStruct(name, v) => typed!(v, |v| s.serialize_newtype_struct(name, v)),
            Model::Tuple(items) => {
                let mut t = s.serialize_tuple(items.len())?;
                for item in items {
                    typed!(item, |v| t.serialize_element(v))?;
                }
                t.end()
            }
            Model::TupleStruct(name, items) => {
                let mut t = s.serialize_tuple_struct(name, items.len())?;
                for item in items {
                    typed!(item, |v| t.serialize_field(v))?;
                }
                t.end()
            }
            Model::Struct(name, fields) => {
                let mut t = s.serialize_struct(name, fields.len())?;
                for (field, value) in fields {
                    typed!(value, |v| t.serialize_field(field, v))?;
                }
                t.end()
            }
            Model::UnitVariant(Var(e, i, v)) => s.serialize_unit_variant(e, *i, v),
            Model::NewtypeVariant(Var(e, i, var), value) => {
                typed!(value, |v| s.serialize_newtype_variant(e, *i, var, v))
            }
            Model::TupleVariant(Var(e, i, var), items) => {
                let mut t = s.serialize_tuple_variant(e, *i, var, items.len())?;
                for item in items {
                    typed!(item, |v| t.serialize_field(v))?;
                }
                t.end()
            }
            Model::StructVariant(Var(e, i, var), fields) => {
                let mut t = s.serialize_struct_variant(e, *i, var, fields.len())?;
                for (field, value) in fields {
                    typed!(value, |v| t.serialize_field(field, v))?;
                }
                t.end()
            }
            // Reached only as an element of a real collection, whose
            // elements the encoder sees as `Keyed`: a newtype hands it the
            // collection's own type.
            Model::Seq(_) | Model::Set(..) | Model::Map(..) => {
                typed!(self, |v| s.serialize_newtype_struct("Nested", v))
            }
        }
    }
}

fn bytes(m: &Model) -> Vec<u8> {
    typed!(m, |v| canonical_bytes(v)).unwrap()
}

/// The model with unordered collections in one order and of one kind:
/// two models are the same value exactly when their normal forms are equal.
fn normal(m: &Model) -> Model {
    let all = |items: &[Model]| items.iter().map(normal).collect::<Vec<_>>();
    let fields = |fs: &[(&'static str, Model)]| fs.iter().map(|(n, v)| (*n, normal(v))).collect();
    match m {
        Model::Some(v) => Model::Some(Box::new(normal(v))),
        Model::NewtypeStruct(n, v) => Model::NewtypeStruct(n, Box::new(normal(v))),
        Model::Tuple(items) => Model::Tuple(all(items)),
        Model::TupleStruct(n, items) => Model::TupleStruct(n, all(items)),
        Model::Struct(n, fs) => Model::Struct(n, fields(fs)),
        Model::NewtypeVariant(var, v) => Model::NewtypeVariant(var.clone(), Box::new(normal(v))),
        Model::TupleVariant(var, items) => Model::TupleVariant(var.clone(), all(items)),
        Model::StructVariant(var, fs) => Model::StructVariant(var.clone(), fields(fs)),
        // An IndexSet is written like a Vec.
        Model::Seq(items) | Model::Set(SetKind::Index, items) => Model::Seq(all(items)),
        Model::Set(_, items) => {
            let mut items = all(items);
            items.sort();
            Model::Set(SetKind::Hash, items)
        }
        Model::Map(kind, entries) => {
            let mut entries: Vec<_> = entries
                .iter()
                .map(|(k, v)| (normal(k), normal(v)))
                .collect();
            if *kind == MapKind::Index {
                Model::Map(MapKind::Index, entries)
            } else {
                entries.sort();
                Model::Map(MapKind::Hash, entries)
            }
        }
        leaf => leaf.clone(),
    }
}

/// The same value built differently: the elements of every unordered
/// collection reordered (rotated and, by `seed`, reversed) and its kind
/// switched between the unordered kinds.
fn rebuilt(m: &Model, seed: u64) -> Model {
    let all = |items: &[Model]| items.iter().map(|i| rebuilt(i, seed)).collect::<Vec<_>>();
    let fields =
        |fs: &[(&'static str, Model)]| fs.iter().map(|(n, v)| (*n, rebuilt(v, seed))).collect();
    match m {
        Model::Some(v) => Model::Some(Box::new(rebuilt(v, seed))),
        Model::NewtypeStruct(n, v) => Model::NewtypeStruct(n, Box::new(rebuilt(v, seed))),
        Model::Tuple(items) => Model::Tuple(all(items)),
        Model::TupleStruct(n, items) => Model::TupleStruct(n, all(items)),
        Model::Struct(n, fs) => Model::Struct(n, fields(fs)),
        Model::NewtypeVariant(var, v) => {
            Model::NewtypeVariant(var.clone(), Box::new(rebuilt(v, seed)))
        }
        Model::TupleVariant(var, items) => Model::TupleVariant(var.clone(), all(items)),
        Model::StructVariant(var, fs) => Model::StructVariant(var.clone(), fields(fs)),
        Model::Seq(items) => Model::Seq(all(items)),
        Model::Set(SetKind::Index, items) => Model::Set(SetKind::Index, all(items)),
        Model::Set(_, items) => {
            let mut items = all(items);
            shuffle(&mut items, seed);
            let kind = [SetKind::Hash, SetKind::BTree, SetKind::Heap][(seed % 3) as usize];
            Model::Set(kind, items)
        }
        Model::Map(MapKind::Index, entries) => Model::Map(
            MapKind::Index,
            entries
                .iter()
                .map(|(k, v)| (rebuilt(k, seed), rebuilt(v, seed)))
                .collect(),
        ),
        Model::Map(_, entries) => {
            let mut entries: Vec<_> = entries
                .iter()
                .map(|(k, v)| (rebuilt(k, seed), rebuilt(v, seed)))
                .collect();
            shuffle(&mut entries, seed);
            let kind = [MapKind::Hash, MapKind::BTree][(seed % 2) as usize];
            Model::Map(kind, entries)
        }
        leaf => leaf.clone(),
    }
}

/// Rotates and, by `seed`, reverses `v`.
fn shuffle<T>(v: &mut [T], seed: u64) {
    if !v.is_empty() {
        let k = (seed % v.len() as u64) as usize;
        v.rotate_left(k);
    }
    if seed & 1 == 1 {
        v.reverse();
    }
}

fn next_name(n: &'static str) -> &'static str {
    let i = NAMES.iter().position(|x| *x == n).unwrap();
    NAMES[(i + 1) % NAMES.len()]
}

/// The next valid `char`, never equal to `c`.
fn next_char(c: char) -> char {
    (u32::from(c) + 1..)
        .find_map(char::from_u32)
        .unwrap_or('\0')
}

/// Moves of adjacent elements that change the value: only where the two
/// differ, else the swap is no change at all.
fn swaps<T: Clone>(items: &[T], differ: impl Fn(&T, &T) -> bool) -> Vec<Vec<T>> {
    (1..items.len())
        .filter(|&i| differ(&items[i - 1], &items[i]))
        .map(|i| {
            let mut v = items.to_vec();
            v.swap(i - 1, i);
            v
        })
        .collect()
}

/// Every mutation of `m`'s own node: a leaf's value or type, a name, a
/// variant, an element added, removed or moved, a layer added or removed.
/// Each changes the value (its normal form), which the test checks.
fn local_mutations(m: &Model) -> Vec<Model> {
    use Model as M;
    let differ = |a: &Model, b: &Model| normal(a) != normal(b);
    let differ_field = |a: &(&str, Model), b: &(&str, Model)| a.0 != b.0 || differ(&a.1, &b.1);
    let differ_entry =
        |a: &(Model, Model), b: &(Model, Model)| differ(&a.0, &b.0) || differ(&a.1, &b.1);
    // Lists: one element fewer, one more, and each move that matters.
    let list = |items: &[Model], make: &dyn Fn(Vec<Model>) -> Model| {
        let mut out = vec![];
        if !items.is_empty() {
            out.push(make(items[1..].to_vec()));
        }
        let mut more = items.to_vec();
        more.push(M::Unit);
        out.push(make(more));
        out.extend(swaps(items, differ).into_iter().map(make));
        out
    };
    let record = |fs: &[(&'static str, Model)],
                  make: &dyn Fn(Vec<(&'static str, Model)>) -> Model| {
        let mut out = vec![];
        for i in 0..fs.len() {
            let mut renamed = fs.to_vec();
            renamed[i].0 = next_name(renamed[i].0);
            out.push(make(renamed));
            let mut removed = fs.to_vec();
            removed.remove(i);
            out.push(make(removed));
        }
        let mut more = fs.to_vec();
        more.push(("a", M::Unit));
        out.push(make(more));
        out.extend(swaps(fs, differ_field).into_iter().map(make));
        out
    };
    let var_changes = |Var(e, i, v): &Var| {
        vec![
            Var(next_name(e), *i, v),
            Var(e, i + 1, v),
            Var(e, *i, next_name(v)),
        ]
    };
    match m {
        M::Unit => vec![M::None, M::Tuple(vec![])],
        M::Bool(b) => vec![M::Bool(!b), M::U8(u8::from(*b))],
        M::I8(v) => vec![M::I8(v.wrapping_add(1)), M::U8(*v as u8)],
        M::I16(v) => vec![M::I16(v.wrapping_add(1)), M::U16(*v as u16)],
        M::I32(v) => vec![M::I32(v.wrapping_add(1)), M::U32(*v as u32)],
        M::I64(v) => vec![M::I64(v.wrapping_add(1)), M::U64(*v as u64)],
        M::I128(v) => vec![M::I128(v.wrapping_add(1)), M::U128(*v as u128)],
        M::U8(v) => vec![
            M::U8(v.wrapping_add(1)),
            M::I8(*v as i8),
            M::U16(u16::from(*v)),
        ],
        M::U16(v) => vec![M::U16(v.wrapping_add(1)), M::I16(*v as i16)],
        // `Fixed(0)` versus `Factor(0.0)`: the same bits, another type.
        M::U32(v) => vec![M::U32(v.wrapping_add(1)), M::F32(*v), M::Char('\0')],
        M::U64(v) => vec![M::U64(v.wrapping_add(1)), M::F64(*v), M::I64(*v as i64)],
        M::U128(v) => vec![M::U128(v.wrapping_add(1)), M::I128(*v as i128)],
        M::F32(bits) => vec![M::F32(bits ^ 1), M::F32(bits ^ (1 << 31)), M::U32(*bits)],
        M::F64(bits) => vec![M::F64(bits ^ 1), M::F64(bits ^ (1 << 63)), M::U64(*bits)],
        M::Char(c) => vec![
            M::Char(next_char(*c)),
            M::U32(u32::from(*c)),
            M::Str(c.to_string()),
        ],
        M::Str(s) => {
            let mut out = vec![M::Str(format!("{s}x")), M::Bytes(s.clone().into_bytes())];
            if let Some(c) = s.chars().next() {
                out.push(M::Str(s[c.len_utf8()..].to_owned()));
            }
            out
        }
        M::Bytes(b) => {
            let mut more = b.clone();
            more.push(0);
            let mut out = vec![
                M::Bytes(more),
                M::Seq(b.iter().map(|x| M::U8(*x)).collect()),
            ];
            if !b.is_empty() {
                let mut changed = b.clone();
                changed[0] ^= 0x80;
                out.push(M::Bytes(changed));
            }
            out
        }
        M::None => vec![M::Some(Box::new(M::Unit)), M::Unit],
        M::Some(v) => vec![M::None, (**v).clone()],
        M::UnitStruct(n) => vec![M::UnitStruct(next_name(n)), M::Unit],
        M::NewtypeStruct(n, v) => vec![
            M::NewtypeStruct(next_name(n), v.clone()),
            (**v).clone(),
            M::TupleStruct(n, vec![(**v).clone()]),
        ],
        M::Tuple(items) => {
            let mut out = list(items, &|v| M::Tuple(v));
            out.push(M::Seq(items.clone()));
            out
        }
        M::TupleStruct(n, items) => {
            let mut out = list(items, &|v| M::TupleStruct(n, v));
            out.push(M::TupleStruct(next_name(n), items.clone()));
            out.push(M::Tuple(items.clone()));
            out
        }
        M::Struct(n, fs) => {
            let mut out = record(fs, &|v| M::Struct(n, v));
            out.push(M::Struct(next_name(n), fs.clone()));
            out
        }
        M::UnitVariant(var) => {
            let mut out: Vec<Model> = var_changes(var).into_iter().map(M::UnitVariant).collect();
            out.push(M::UnitStruct(var.2));
            out
        }
        M::NewtypeVariant(var, v) => {
            let mut out: Vec<Model> = var_changes(var)
                .into_iter()
                .map(|var| M::NewtypeVariant(var, v.clone()))
                .collect();
            // The same variant, untagged.
            out.push((**v).clone());
            out
        }
        M::TupleVariant(var, items) => {
            let mut out: Vec<Model> = var_changes(var)
                .into_iter()
                .map(|var| M::TupleVariant(var, items.clone()))
                .collect();
            out.extend(list(items, &|v| M::TupleVariant(var.clone(), v)));
            out.push(M::Tuple(items.clone()));
            out
        }
        M::StructVariant(var, fs) => {
            let mut out: Vec<Model> = var_changes(var)
                .into_iter()
                .map(|var| M::StructVariant(var, fs.clone()))
                .collect();
            out.extend(record(fs, &|v| M::StructVariant(var.clone(), v)));
            out.push(M::Struct(var.2, fs.clone()));
            out
        }
        M::Seq(items) => {
            let mut out = list(items, &|v| M::Seq(v));
            // A list and a set with the same elements are not the same
            // argument.
            out.push(M::Set(SetKind::Hash, items.clone()));
            out
        }
        M::Set(kind, items) => {
            let mut out = vec![];
            if !items.is_empty() {
                out.push(M::Set(*kind, items[1..].to_vec()));
            }
            let mut more = items.clone();
            more.push(M::Unit);
            out.push(M::Set(*kind, more));
            if *kind == SetKind::Index {
                out.extend(swaps(items, differ).into_iter().map(|v| M::Set(*kind, v)));
            }
            out
        }
        M::Map(kind, entries) => {
            let mut out = vec![];
            if !entries.is_empty() {
                out.push(M::Map(*kind, entries[1..].to_vec()));
            }
            let mut more = entries.clone();
            more.push((M::Unit, M::Unit));
            out.push(M::Map(*kind, more));
            if *kind == MapKind::Index {
                out.extend(
                    swaps(entries, differ_entry)
                        .into_iter()
                        .map(|v| M::Map(*kind, v)),
                );
            }
            out
        }
    }
}

/// Every single mutation of `m`, at any depth.
fn mutations(m: &Model) -> Vec<Model> {
    use Model as M;
    let mut out = local_mutations(m);
    // Each mutation of a child, put back in place.
    let boxed = |v: &Model, make: &dyn Fn(Box<Model>) -> Model, out: &mut Vec<Model>| {
        out.extend(mutations(v).into_iter().map(|c| make(Box::new(c))));
    };
    let list = |items: &[Model], make: &dyn Fn(Vec<Model>) -> Model, out: &mut Vec<Model>| {
        for (i, item) in items.iter().enumerate() {
            for c in mutations(item) {
                let mut v = items.to_vec();
                v[i] = c;
                out.push(make(v));
            }
        }
    };
    let record = |fs: &[(&'static str, Model)],
                  make: &dyn Fn(Vec<(&'static str, Model)>) -> Model,
                  out: &mut Vec<Model>| {
        for (i, (_, value)) in fs.iter().enumerate() {
            for c in mutations(value) {
                let mut v = fs.to_vec();
                v[i].1 = c;
                out.push(make(v));
            }
        }
    };
    match m {
        M::Some(v) => boxed(v, &M::Some, &mut out),
        M::NewtypeStruct(n, v) => boxed(v, &|c| M::NewtypeStruct(n, c), &mut out),
        M::NewtypeVariant(var, v) => boxed(v, &|c| M::NewtypeVariant(var.clone(), c), &mut out),
        M::Tuple(items) => list(items, &M::Tuple, &mut out),
        M::TupleStruct(n, items) => list(items, &|v| M::TupleStruct(n, v), &mut out),
        M::TupleVariant(var, items) => list(items, &|v| M::TupleVariant(var.clone(), v), &mut out),
        M::Seq(items) => list(items, &M::Seq, &mut out),
        M::Set(kind, items) => list(items, &|v| M::Set(*kind, v), &mut out),
        M::Struct(n, fs) => record(fs, &|v| M::Struct(n, v), &mut out),
        M::StructVariant(var, fs) => record(fs, &|v| M::StructVariant(var.clone(), v), &mut out),
        M::Map(kind, entries) => {
            for (i, (k, v)) in entries.iter().enumerate() {
                for c in mutations(k) {
                    let mut e = entries.clone();
                    e[i].0 = c;
                    out.push(M::Map(*kind, e));
                }
                for c in mutations(v) {
                    let mut e = entries.clone();
                    e[i].1 = c;
                    out.push(M::Map(*kind, e));
                }
            }
        }
        _ => {}
    }
    out
}

fn name() -> BoxedStrategy<&'static str> {
    proptest::sample::select(&NAMES[..]).boxed()
}

fn var() -> impl Strategy<Value = Var> {
    (name(), 0..3u32, name()).prop_map(|(e, i, v)| Var(e, i, v))
}

/// Leaves: small values most of the time, so that random values collide
/// often, plus the whole range.
fn leaf() -> impl Strategy<Value = Model> {
    use Model as M;
    prop_oneof![
        Just(M::Unit),
        any::<bool>().prop_map(M::Bool),
        any::<i8>().prop_map(M::I8),
        (-2..2i16).prop_map(M::I16),
        any::<i32>().prop_map(M::I32),
        prop_oneof![-2..2i64, any::<i64>()].prop_map(M::I64),
        any::<i128>().prop_map(M::I128),
        (0..3u8).prop_map(M::U8),
        any::<u16>().prop_map(M::U16),
        (0..3u32).prop_map(M::U32),
        prop_oneof![0..3u64, any::<u64>()].prop_map(M::U64),
        any::<u128>().prop_map(M::U128),
        prop_oneof![Just(0u32), Just(1 << 31), any::<u32>()].prop_map(M::F32),
        prop_oneof![
            Just(0u64),
            Just(1 << 63),
            Just(f64::NAN.to_bits()),
            any::<f64>().prop_map(f64::to_bits)
        ]
        .prop_map(M::F64),
        any::<char>().prop_map(M::Char),
        "[ab]{0,3}".prop_map(M::Str),
        proptest::collection::vec(0..2u8, 0..3).prop_map(M::Bytes),
        Just(M::None),
        name().prop_map(M::UnitStruct),
        var().prop_map(M::UnitVariant),
    ]
}

fn model() -> impl Strategy<Value = Model> {
    use Model as M;
    use proptest::collection::vec;
    leaf().prop_recursive(4, 32, 4, |inner| {
        let fields = vec((name(), inner.clone()), 0..4);
        prop_oneof![
            inner.clone().prop_map(|v| M::Some(Box::new(v))),
            (name(), inner.clone()).prop_map(|(n, v)| M::NewtypeStruct(n, Box::new(v))),
            vec(inner.clone(), 0..4).prop_map(M::Tuple),
            (name(), vec(inner.clone(), 0..4)).prop_map(|(n, v)| M::TupleStruct(n, v)),
            (name(), fields.clone()).prop_map(|(n, v)| M::Struct(n, v)),
            (var(), inner.clone()).prop_map(|(var, v)| M::NewtypeVariant(var, Box::new(v))),
            (var(), vec(inner.clone(), 0..4)).prop_map(|(var, v)| M::TupleVariant(var, v)),
            (var(), fields).prop_map(|(var, v)| M::StructVariant(var, v)),
            vec(inner.clone(), 0..4).prop_map(M::Seq),
            (
                prop_oneof![
                    Just(SetKind::Hash),
                    Just(SetKind::BTree),
                    Just(SetKind::Heap),
                    Just(SetKind::Index)
                ],
                vec(inner.clone(), 0..5)
            )
                .prop_map(|(k, v)| M::Set(k, v)),
            (
                prop_oneof![
                    Just(MapKind::Hash),
                    Just(MapKind::BTree),
                    Just(MapKind::Index)
                ],
                vec((inner.clone(), inner), 0..5)
            )
                .prop_map(|(k, v)| M::Map(k, v)),
        ]
    })
}

/// 10 000 cases per property, or `LAKE_PROPTEST_CASES`.
fn config() -> Config {
    let cases = std::env::var("LAKE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    Config {
        cases,
        // Failures are reported with their shrunk value; no file is written
        // into the source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn equal_values_built_differently_encode_equally(m in model(), seed in any::<u64>()) {
        let other = rebuilt(&m, seed);
        prop_assert_eq!(normal(&m), normal(&other));
        prop_assert_eq!(bytes(&m), bytes(&other));
    }

    #[test]
    fn every_single_mutation_changes_the_bytes(m in model(), pick in any::<proptest::sample::Index>()) {
        let original = bytes(&m);
        let all = mutations(&m);
        // Every mutation of small values, a sample of four for larger ones,
        // so that the run stays short.
        let chosen: Vec<&Model> = if all.len() <= 16 {
            all.iter().collect()
        } else {
            (0..4).map(|k| &all[(pick.index(all.len()) + k * all.len() / 4) % all.len()]).collect()
        };
        for mutant in chosen {
            // The mutator's own promise: the value changed.
            prop_assert_ne!(normal(&m), normal(mutant), "not a mutation: {:?}", mutant);
            prop_assert_ne!(&original, &bytes(mutant), "{:?}\nand\n{:?}", m, mutant);
        }
    }

    #[test]
    fn random_values_share_bytes_only_when_equal(a in model(), b in model()) {
        prop_assert_eq!(normal(&a) == normal(&b), bytes(&a) == bytes(&b));
    }
}

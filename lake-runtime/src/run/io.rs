//! The traits that carry a creator's parameters and return value across
//! the macro boundary: input files, outputs, the creator's return type,
//! and explicit output names.

use lake_core::Name;

use crate::{Error, File, Result};

/// Parameter types that carry input files.
pub trait InputFiles {
    /// The files, each with its index inside a list parameter.
    fn input_files(&self) -> Vec<(Option<usize>, &File)>;
}

impl InputFiles for File {
    fn input_files(&self) -> Vec<(Option<usize>, &File)> {
        vec![(None, self)]
    }
}

impl<T: InputFiles + ?Sized> InputFiles for &T {
    fn input_files(&self) -> Vec<(Option<usize>, &File)> {
        (**self).input_files()
    }
}

impl InputFiles for [File] {
    fn input_files(&self) -> Vec<(Option<usize>, &File)> {
        self.iter().enumerate().map(|(i, f)| (Some(i), f)).collect()
    }
}

impl InputFiles for Vec<File> {
    fn input_files(&self) -> Vec<(Option<usize>, &File)> {
        self.as_slice().input_files()
    }
}

impl InputFiles for Option<File> {
    fn input_files(&self) -> Vec<(Option<usize>, &File)> {
        self.iter().map(|f| (None, f)).collect()
    }
}

/// Return shapes that hold a run's outputs: `File`, `Vec<File>`, tuples.
pub trait Outputs: Sized {
    /// The number of outputs if the type fixes it.
    const ARITY: Option<usize>;
    /// The files, in order.
    fn into_files(self) -> Vec<File>;
    /// Rebuilds the value from files (a cache hit).
    fn from_files(files: Vec<File>) -> Result<Self>;
}

impl Outputs for File {
    const ARITY: Option<usize> = Some(1);
    fn into_files(self) -> Vec<File> {
        vec![self]
    }
    fn from_files(files: Vec<File>) -> Result<Self> {
        let count = files.len();
        let mut it = files.into_iter();
        match (it.next(), it.next()) {
            (Some(file), None) => Ok(file),
            _ => Err(arity_error(1, count)),
        }
    }
}

impl Outputs for Vec<File> {
    const ARITY: Option<usize> = None;
    fn into_files(self) -> Vec<File> {
        self
    }
    fn from_files(files: Vec<File>) -> Result<Self> {
        Ok(files)
    }
}

fn arity_error(expected: usize, found: usize) -> Error {
    Error::OutputCount { expected, found }
}

macro_rules! tuple_outputs {
    ($n:literal: $($f:ident),+) => {
        impl Outputs for ($(tuple_outputs!(@file $f),)+) {
            const ARITY: Option<usize> = Some($n);
            fn into_files(self) -> Vec<File> {
                let ($($f,)+) = self;
                vec![$($f),+]
            }
            fn from_files(files: Vec<File>) -> Result<Self> {
                let count = files.len();
                let mut it = files.into_iter();
                $(let $f = it.next().ok_or_else(|| arity_error($n, count))?;)+
                if it.next().is_some() {
                    return Err(arity_error($n, count));
                }
                Ok(($($f,)+))
            }
        }
    };
    (@file $f:ident) => { File };
}

tuple_outputs!(1: a);
tuple_outputs!(2: a, b);
tuple_outputs!(3: a, b, c);
tuple_outputs!(4: a, b, c, d);
tuple_outputs!(5: a, b, c, d, e);
tuple_outputs!(6: a, b, c, d, e, f);
tuple_outputs!(7: a, b, c, d, e, f, g);
tuple_outputs!(8: a, b, c, d, e, f, g, h);
tuple_outputs!(9: a, b, c, d, e, f, g, h, i);
tuple_outputs!(10: a, b, c, d, e, f, g, h, i, j);
tuple_outputs!(11: a, b, c, d, e, f, g, h, i, j, k);
tuple_outputs!(12: a, b, c, d, e, f, g, h, i, j, k, l);

/// What a creator returns: outputs, or `Result` of outputs.
pub trait CreatorReturn: Sized {
    /// The outputs inside.
    type Outputs: Outputs;
    /// The outputs, or the value to hand back unchanged (a user error).
    fn into_outputs(self) -> std::result::Result<Self::Outputs, Self>;
    /// Wraps outputs.
    fn from_outputs(outputs: Self::Outputs) -> Self;
    /// Reports a lake failure: an `Err` for `Result` returns, else a panic,
    /// since a plain `File` return has no other way to fail.
    fn from_lake_error(error: Error) -> Self;
}

impl<T: Outputs> CreatorReturn for T {
    type Outputs = T;
    fn into_outputs(self) -> std::result::Result<T, Self> {
        Ok(self)
    }
    fn from_outputs(outputs: T) -> Self {
        outputs
    }
    fn from_lake_error(error: Error) -> Self {
        panic!("lake: {error}")
    }
}

impl<T: Outputs, E: From<Error>> CreatorReturn for std::result::Result<T, E> {
    type Outputs = T;
    fn into_outputs(self) -> std::result::Result<T, Self> {
        match self {
            Ok(outputs) => Ok(outputs),
            Err(e) => Err(Err(e)),
        }
    }
    fn from_outputs(outputs: T) -> Self {
        Ok(outputs)
    }
    fn from_lake_error(error: Error) -> Self {
        Err(E::from(error))
    }
}

/// Types an `output_uid` parameter may have: `&str`, `String`, `Name`, …
pub trait OutputName {
    /// The validated name.
    fn to_output_name(&self) -> Result<Name>;
}

impl OutputName for str {
    fn to_output_name(&self) -> Result<Name> {
        Ok(Name::new(self)?)
    }
}

impl OutputName for String {
    fn to_output_name(&self) -> Result<Name> {
        self.as_str().to_output_name()
    }
}

impl OutputName for Name {
    fn to_output_name(&self) -> Result<Name> {
        Ok(self.clone())
    }
}

impl OutputName for std::borrow::Cow<'_, str> {
    fn to_output_name(&self) -> Result<Name> {
        self.as_ref().to_output_name()
    }
}

impl<T: OutputName + ?Sized> OutputName for &T {
    fn to_output_name(&self) -> Result<Name> {
        (**self).to_output_name()
    }
}

impl<T: OutputName + ?Sized> OutputName for Box<T> {
    fn to_output_name(&self) -> Result<Name> {
        (**self).to_output_name()
    }
}

/// Types an `output_uids` parameter may have: `Vec<_>`, slices and arrays
/// of [`OutputName`]s.
pub trait OutputNames {
    /// The validated names, in order.
    fn to_output_names(&self) -> Result<Vec<Name>>;
}

impl<T: OutputName> OutputNames for [T] {
    fn to_output_names(&self) -> Result<Vec<Name>> {
        self.iter().map(OutputName::to_output_name).collect()
    }
}

impl<T: OutputName> OutputNames for Vec<T> {
    fn to_output_names(&self) -> Result<Vec<Name>> {
        self.as_slice().to_output_names()
    }
}

impl<T: OutputName, const N: usize> OutputNames for [T; N] {
    fn to_output_names(&self) -> Result<Vec<Name>> {
        self.as_slice().to_output_names()
    }
}

impl<T: OutputNames + ?Sized> OutputNames for &T {
    fn to_output_names(&self) -> Result<Vec<Name>> {
        (**self).to_output_names()
    }
}

//! The record's enum values by their API names (`PAYMENT_SERVICE_PROVIDER`), as serde writes
//! them: what the builder sorts by and the exporters render.

use serde::Serialize;
use serde::ser::Impossible;

/// An enum value as its API name (`PAYMENT_SERVICE_PROVIDER`); empty for anything that is not
/// a unit enum variant.
pub(crate) fn name_of(value: impl Serialize) -> &'static str {
    variant_name(&value).unwrap_or_default()
}

/// The serialized name of a unit enum variant, without allocating; `None` for anything else.
fn variant_name(value: &impl Serialize) -> Option<&'static str> {
    value.serialize(VariantName).ok()
}

/// A serializer that only accepts unit enum variants and returns their serialized name.
struct VariantName;

#[derive(Debug)]
struct NotAVariant;

impl std::fmt::Display for NotAVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a unit enum variant")
    }
}

impl std::error::Error for NotAVariant {}

impl serde::ser::Error for NotAVariant {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        NotAVariant
    }
}

/// Serializer methods that refuse their value.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self, $(_: $arg),*) -> std::result::Result<Self::Ok, NotAVariant> {
            Err(NotAVariant)
        })*
    };
}

impl serde::Serializer for VariantName {
    type Ok = &'static str;
    type Error = NotAVariant;
    type SerializeSeq = Impossible<&'static str, NotAVariant>;
    type SerializeTuple = Impossible<&'static str, NotAVariant>;
    type SerializeTupleStruct = Impossible<&'static str, NotAVariant>;
    type SerializeTupleVariant = Impossible<&'static str, NotAVariant>;
    type SerializeMap = Impossible<&'static str, NotAVariant>;
    type SerializeStruct = Impossible<&'static str, NotAVariant>;
    type SerializeStructVariant = Impossible<&'static str, NotAVariant>;

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> std::result::Result<&'static str, NotAVariant> {
        Ok(variant)
    }

    refuse! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(
        self,
        _: &T,
    ) -> std::result::Result<&'static str, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> std::result::Result<&'static str, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> std::result::Result<&'static str, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_seq(
        self,
        _: Option<usize>,
    ) -> std::result::Result<Self::SerializeSeq, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_tuple(self, _: usize) -> std::result::Result<Self::SerializeTuple, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleStruct, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleVariant, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_map(
        self,
        _: Option<usize>,
    ) -> std::result::Result<Self::SerializeMap, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStruct, NotAVariant> {
        Err(NotAVariant)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStructVariant, NotAVariant> {
        Err(NotAVariant)
    }
}

#[cfg(test)]
mod tests {
    use super::{name_of, variant_name};
    use entity::{Derogation, LegalBasis, RecipientKind, RecipientRole, TransferMechanism};
    use sea_orm::Iterable;

    fn serde_name(value: impl serde::Serialize) -> String {
        serde_json::to_value(value)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn variant_names_are_the_api_names() {
        for kind in RecipientKind::iter() {
            assert_eq!(name_of(kind), serde_name(kind));
        }
        for role in RecipientRole::iter() {
            assert_eq!(name_of(role), serde_name(role));
        }
        for mechanism in TransferMechanism::iter() {
            assert_eq!(name_of(mechanism), serde_name(mechanism));
        }
        for derogation in Derogation::iter() {
            assert_eq!(name_of(derogation), serde_name(derogation));
        }
        for basis in LegalBasis::iter() {
            assert_eq!(name_of(basis), serde_name(basis));
        }
        assert_eq!(variant_name(&"text"), None);
        assert_eq!(variant_name(&Some(RecipientRole::Processor)), None);
        assert_eq!(name_of(3), "");
    }
}

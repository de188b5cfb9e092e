//! Keyed pseudonyms: HMAC-SHA256 of the NHS number (or the person id) under a key given at
//! run time.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::compute::{sort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::dataframe::DataFrame;
use datafusion::functions_aggregate::min_max::min_udaf;
use datafusion::logical_expr::{JoinType, cast};
use datafusion::prelude::SessionContext;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};

use crate::error::{CaasError, Result};
use crate::source::{IdKey, Table, column};

type HmacSha256 = Hmac<Sha256>;

/// The secret key of pseudonyms: bytes given at run time, never stored or printed.
///
/// Its `Debug` form is `<redacted>`, it cannot be serialised, and its bytes are overwritten
/// when it is dropped. Deserialised (in [`EvaluationOptions`](crate::EvaluationOptions)), it
/// is written in hexadecimal.
///
/// ```
/// use caas_core::governance::PseudonymKey;
/// let key = PseudonymKey::from_hex("000102030405060708090a0b0c0d0e0f").unwrap();
/// assert_eq!(format!("{key:?}"), "<redacted>");
/// assert_eq!(key.pseudonym(b"9434765919").len(), 64);
/// assert!(PseudonymKey::new(b"short".to_vec()).is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PseudonymKey(Vec<u8>);

impl PseudonymKey {
    /// The fewest bytes a key may have. 32 random bytes (the size of the hash) are
    /// recommended: with a short key, pseudonyms of the few billion possible NHS numbers
    /// could be recomputed by trying keys.
    pub const MIN_BYTES: usize = 16;

    /// A key from its bytes; at least [`PseudonymKey::MIN_BYTES`] of them.
    pub fn new(bytes: Vec<u8>) -> Result<Self> {
        if bytes.len() < Self::MIN_BYTES {
            return Err(CaasError::InvalidOption {
                option: "pseudonym_key",
                message: format!(
                    "the key has {} bytes; it needs at least {} (32 random bytes are recommended)",
                    bytes.len(),
                    Self::MIN_BYTES
                ),
            });
        }
        Ok(PseudonymKey(bytes))
    }

    /// A key written in hexadecimal (two digits per byte).
    pub fn from_hex(text: &str) -> Result<Self> {
        let invalid = || CaasError::InvalidOption {
            option: "pseudonym_key",
            message: "the key is not hexadecimal (two digits per byte)".to_string(),
        };
        let text = text.trim();
        if !text.len().is_multiple_of(2) {
            return Err(invalid());
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| {
                text.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(invalid)
            })
            .collect::<Result<Vec<u8>>>()?;
        Self::new(bytes)
    }

    fn mac(&self) -> Result<HmacSha256> {
        <HmacSha256 as KeyInit>::new_from_slice(&self.0).map_err(|_| CaasError::InvalidOption {
            option: "pseudonym_key",
            message: "HMAC-SHA256 refused the key".to_string(),
        })
    }

    /// The inner and outer keys of HMAC-SHA256 under this key (RFC 2104: the key, hashed
    /// if longer than a block of 64 bytes, padded with zeros to one, and XORed with 0x36
    /// and 0x5c), in hexadecimal: what another engine's SQL computes pseudonyms with, given
    /// as query parameters so that no SQL text holds them. They are as secret as the key.
    pub fn hmac_pads(&self) -> (String, String) {
        let mut block = [0u8; 64];
        if self.0.len() > block.len() {
            let digest = Sha256::digest(&self.0);
            block[..digest.len()].copy_from_slice(&digest);
        } else {
            block[..self.0.len()].copy_from_slice(&self.0);
        }
        let hex = |pad: u8| block.iter().map(|b| format!("{:02x}", b ^ pad)).collect();
        let pads = (hex(0x36), hex(0x5c));
        block.fill(0);
        std::hint::black_box(&block);
        pads
    }

    /// The pseudonym of `input`: HMAC-SHA256 under this key, as 64 lower-case hexadecimal
    /// digits.
    pub fn pseudonym(&self, input: &[u8]) -> String {
        match self.mac() {
            Ok(mac) => pseudonym_with(&mac, input),
            // HMAC takes keys of any length, so this does not happen.
            Err(_) => String::new(),
        }
    }
}

fn pseudonym_with(keyed: &HmacSha256, input: &[u8]) -> String {
    let mut mac = keyed.clone();
    mac.update(input);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(2 * digest.len());
    for byte in digest.iter() {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    hex
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for PseudonymKey {
    fn drop(&mut self) {
        self.0.fill(0);
        // Keeps the overwrite from being optimised away as a store that is never read.
        std::hint::black_box(&self.0);
    }
}

impl<'de> Deserialize<'de> for PseudonymKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// Reads a key from hexadecimal text. Serde's own message for a value of the wrong type
/// quotes the value, which here is (part of) the key: every other type gets a message of
/// its own.
struct KeyVisitor;

impl KeyVisitor {
    fn not_text<E: serde::de::Error>() -> E {
        E::custom("the pseudonym key must be hexadecimal text")
    }
}

impl serde::de::Visitor<'_> for KeyVisitor {
    type Value = PseudonymKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the pseudonym key in hexadecimal text")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> std::result::Result<Self::Value, E> {
        PseudonymKey::from_hex(text).map_err(E::custom)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> std::result::Result<Self::Value, E> {
        Err(Self::not_text())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> std::result::Result<Self::Value, E> {
        Err(Self::not_text())
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> std::result::Result<Self::Value, E> {
        Err(Self::not_text())
    }

    fn visit_i128<E: serde::de::Error>(self, _: i128) -> std::result::Result<Self::Value, E> {
        Err(Self::not_text())
    }

    fn visit_u128<E: serde::de::Error>(self, _: u128) -> std::result::Result<Self::Value, E> {
        Err(Self::not_text())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> std::result::Result<Self::Value, E> {
        Err(Self::not_text())
    }

    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> std::result::Result<Self::Value, E> {
        Err(Self::not_text())
    }
}

impl schemars::JsonSchema for PseudonymKey {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PseudonymKey".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([0-9a-fA-F]{2}){16,}$",
            "description": "The key of pseudonyms in hexadecimal, at least 16 bytes.",
        })
    }
}

/// The text a pseudonym is made from: an NHS number's ten digits without spaces (so that
/// `943 476 5919` and `9434765919` give one pseudonym), or a person id as written. Only
/// spaces are removed, as the SQL of other engines does (`replace(x, ' ', '')`).
fn identifier_texts(values: &ArrayRef, strip_spaces: bool) -> Result<Vec<Option<String>>> {
    if values.data_type().is_integer() {
        let ints = arrow::compute::cast(values, &DataType::Int64)?;
        return Ok(ints
            .as_primitive::<Int64Type>()
            .iter()
            .map(|v| v.map(|n| n.to_string()))
            .collect());
    }
    let text = arrow::compute::cast(values, &DataType::Utf8)?;
    Ok(text
        .as_string::<i32>()
        .iter()
        .map(|v| {
            v.map(|t| {
                if strip_spaces {
                    t.replace(' ', "")
                } else {
                    t.to_string()
                }
            })
        })
        .collect())
}

/// The members with their first column (`person_id`) replaced by a `pseudonym` column, and
/// sorted by it (an order by person id would tell something about the ids).
///
/// The pseudonym is made from the person's NHS number when the person table has one (the
/// `nhs_number` part), else from the person id. A member without an NHS number would get no
/// pseudonym, and could then be neither identified nor compared between runs: that fails
/// the evaluation, naming the column and the count.
pub(crate) async fn pseudonymise(
    ctx: &SessionContext,
    members: RecordBatch,
    person: &Table,
    key: &PseudonymKey,
) -> Result<RecordBatch> {
    let mac = key.mac()?;
    let ids = members.column(0).clone();
    let id_column = person.shape.column("person_id").unwrap_or("person_id");
    let inputs = match person.shape.column("nhs_number") {
        Some(nhs) if nhs != id_column => nhs_numbers_of(ctx, &members, person, nhs).await?,
        Some(_) => identifier_texts(&ids, true)?,
        None => identifier_texts(&ids, false)?,
    };
    let missing = inputs.iter().filter(|v| v.is_none()).count();
    if missing > 0 {
        let column = person.shape.column("nhs_number").unwrap_or("nhs_number");
        return Err(without_nhs_numbers(&person.name, column, missing as u64));
    }
    let pseudonyms: StringArray = inputs
        .iter()
        .map(|v| v.as_ref().map(|t| pseudonym_with(&mac, t.as_bytes())))
        .collect();
    let pseudonyms: ArrayRef = Arc::new(pseudonyms);
    let mut fields = vec![Arc::new(Field::new("pseudonym", DataType::Utf8, true))];
    fields.extend(members.schema().fields().iter().skip(1).cloned());
    let mut columns = vec![pseudonyms];
    columns.extend(members.columns().iter().skip(1).cloned());
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    if batch.num_rows() == 0 {
        return Ok(batch);
    }
    let order = sort_to_indices(batch.column(0).as_ref(), None, None)?;
    Ok(take_record_batch(&batch, &order)?)
}

/// The error of `count` members without an NHS number (`column` of the person table
/// `table`) to make a pseudonym from.
pub fn without_nhs_numbers(table: &str, column: &str, count: u64) -> CaasError {
    CaasError::InvalidInput {
        what: "pseudonyms".to_string(),
        message: format!(
            "{count} member(s) have no NHS number (column `{column}` of table `{table}`) to make a pseudonym from; exclude them with a rule"
        ),
    }
}

/// The NHS number of each member (by position), looked up in the person table; the
/// smallest if a person has several rows.
async fn nhs_numbers_of(
    ctx: &SessionContext,
    members: &RecordBatch,
    person: &Table,
    nhs: &str,
) -> Result<Vec<Option<String>>> {
    let ids = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(
            "__g_member",
            members.column(0).data_type().clone(),
            true,
        )])),
        vec![members.column(0).clone()],
    )?;
    let wanted: DataFrame = ctx.read_batch(ids)?;
    let found = person
        .data
        .clone()
        .select(vec![
            person.person_key(IdKey::of(&person.shape)).alias("__g_id"),
            cast(column(nhs), DataType::Utf8).alias("__g_nhs"),
        ])?
        .join_on(
            wanted,
            JoinType::LeftSemi,
            [column("__g_id").eq(column("__g_member"))],
        )?
        .aggregate(
            vec![column("__g_id")],
            vec![min_udaf().call(vec![column("__g_nhs")]).alias("__g_nhs")],
        )?
        .collect()
        .await?;
    let mut by_id: HashMap<String, String> = HashMap::new();
    for batch in &found {
        let id = identifier_texts(batch.column(0), false)?;
        let nhs = identifier_texts(batch.column(1), true)?;
        for (id, nhs) in id.into_iter().zip(nhs) {
            if let (Some(id), Some(nhs)) = (id, nhs) {
                by_id.insert(id, nhs);
            }
        }
    }
    Ok(identifier_texts(members.column(0), false)?
        .into_iter()
        .map(|id| id.and_then(|id| by_id.get(&id).cloned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 4231, test cases 1, 2 and 6: HMAC-SHA256 of independent published vectors.
    #[test]
    fn rfc_4231_vectors() {
        let mac = |key: &[u8], data: &[u8]| {
            let keyed = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap();
            pseudonym_with(&keyed, data)
        };
        assert_eq!(
            mac(&[0x0b; 20], b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            mac(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            mac(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // Through the key type, with a key of the minimum length (test case 1's 20 bytes).
        let key = PseudonymKey::new(vec![0x0b; 20]).unwrap();
        assert_eq!(
            key.pseudonym(b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(hex(&[0, 255]), "00ff");
    }

    #[test]
    fn keys_are_checked_and_never_shown() {
        assert!(PseudonymKey::from_hex("0g").is_err());
        assert!(PseudonymKey::from_hex("abc").is_err());
        let err = PseudonymKey::from_hex("00112233").unwrap_err();
        assert_eq!(err.code(), "invalid_option");
        assert!(!err.to_string().contains("00112233"));
        let key = PseudonymKey::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(format!("{key:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(key)), "Some(<redacted>)");
    }
}

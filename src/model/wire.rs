//! Just enough protobuf wire handling to read and rewrite `c1.connector.v2.Grant` blobs
//! without decoding what expansion does not touch: the embedded entitlement is copied as
//! bytes, unknown fields survive a rewrite, and reading a holder costs one pass over its
//! top-level fields. Field numbers are those of c1z-v1.md §3.1. Owns no expansion rule; used
//! by grant expansion (`expand`) and the c1z backfill (`store::c1z::backfill`).

use std::borrow::Cow;

use prost::Message;
use prost::bytes::Buf;
use prost::encoding::{WireType, decode_varint, encode_key, encode_varint};

use crate::model::{any, pb};

const ENTITLEMENT: u32 = 1;
const PRINCIPAL: u32 = 2;
const ID: u32 = 3;
const ANNOTATIONS: u32 = 4;
const SOURCES: u32 = 5;

const GRANT_IMMUTABLE_URL: &str = "type.googleapis.com/c1.connector.v2.GrantImmutable";

/// A blob that is not a well-formed protobuf message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct WireError(pub(crate) String);

/// One top-level field: its number, its whole encoding (key included) and, for
/// length-delimited fields, the contents.
struct Field<'a> {
    number: u32,
    raw: &'a [u8],
    payload: Option<&'a [u8]>,
}

fn fields(buf: &[u8]) -> impl Iterator<Item = Result<Field<'_>, WireError>> {
    let mut rest = buf;
    let mut failed = false;
    std::iter::from_fn(move || {
        if rest.is_empty() || failed {
            return None;
        }
        let field = next_field(&mut rest);
        failed = field.is_err();
        Some(field)
    })
}

fn next_field<'a>(rest: &mut &'a [u8]) -> Result<Field<'a>, WireError> {
    let start = *rest;
    let err = |what: &str| WireError(format!("malformed protobuf: {what}"));
    let key = decode_varint(rest).map_err(|_| err("bad field key"))?;
    let number = u32::try_from(key >> 3).map_err(|_| err("field number out of range"))?;
    if number == 0 {
        return Err(err("field number 0"));
    }
    let mut payload = None;
    match WireType::try_from(key & 7).map_err(|_| err("unknown wire type"))? {
        WireType::Varint => {
            decode_varint(rest).map_err(|_| err("bad varint"))?;
        }
        WireType::SixtyFourBit => skip(rest, 8).map_err(|_| err("truncated fixed64"))?,
        WireType::ThirtyTwoBit => skip(rest, 4).map_err(|_| err("truncated fixed32"))?,
        WireType::LengthDelimited => {
            let len = decode_varint(rest).map_err(|_| err("bad length"))?;
            let len = usize::try_from(len).map_err(|_| err("length out of range"))?;
            if rest.len() < len {
                return Err(err("truncated length-delimited field"));
            }
            payload = Some(&rest[..len]);
            rest.advance(len);
        }
        WireType::StartGroup | WireType::EndGroup => return Err(err("groups are not used")),
    }
    let used = start.len() - rest.len();
    Ok(Field {
        number,
        raw: &start[..used],
        payload,
    })
}

fn skip(rest: &mut &[u8], n: usize) -> Result<(), ()> {
    if rest.len() < n {
        return Err(());
    }
    rest.advance(n);
    Ok(())
}

/// Joins repeated occurrences of a message field: protobuf merges them, which for the
/// encoding is concatenation.
fn join<'a>(parts: Vec<&'a [u8]>) -> Option<Cow<'a, [u8]>> {
    match parts.len() {
        0 => None,
        1 => Some(Cow::Borrowed(parts[0])),
        _ => Some(Cow::Owned(parts.concat())),
    }
}

/// What expansion reads from a holder grant's blob.
pub(crate) struct GrantParts<'a> {
    /// The encoded `principal` message, if present.
    pub(crate) principal: Option<Cow<'a, [u8]>>,
    /// The decoded `sources`, if present.
    pub(crate) sources: Option<pb::GrantSources>,
}

pub(crate) fn grant_parts(data: &[u8]) -> Result<GrantParts<'_>, WireError> {
    let mut principal = Vec::new();
    let mut sources = Vec::new();
    for f in fields(data) {
        let f = f?;
        match (f.number, f.payload) {
            (PRINCIPAL, Some(p)) => principal.push(p),
            (SOURCES, Some(p)) => sources.push(p),
            _ => {}
        }
    }
    let sources = match join(sources) {
        None => None,
        Some(b) => Some(
            pb::GrantSources::decode(b.as_ref())
                .map_err(|e| WireError(format!("sources do not decode: {e}")))?,
        ),
    };
    Ok(GrantParts {
        principal: join(principal),
        sources,
    })
}

fn is_expandable_any(payload: &[u8]) -> bool {
    prost_types::Any::decode(payload).is_ok_and(|a| any::is::<pb::GrantExpandable>(&a))
}

fn put_len_field(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    encode_key(number, WireType::LengthDelimited, out);
    encode_varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// The grant blob `data` with `sources` replaced and every GrantExpandable annotation
/// removed; every other field is kept byte for byte, in its place (R19).
pub(crate) fn with_sources(data: &[u8], sources: &pb::GrantSources) -> Result<Vec<u8>, WireError> {
    let encoded = sources.encode_to_vec();
    let mut out = Vec::with_capacity(data.len() + encoded.len() + 4);
    let mut placed = false;
    for f in fields(data) {
        let f = f?;
        if f.number == SOURCES {
            continue;
        }
        if f.number == ANNOTATIONS && f.payload.is_some_and(is_expandable_any) {
            continue;
        }
        if !placed && f.number > SOURCES {
            put_len_field(&mut out, SOURCES, &encoded);
            placed = true;
        }
        out.extend_from_slice(f.raw);
    }
    if !placed {
        put_len_field(&mut out, SOURCES, &encoded);
    }
    Ok(out)
}

/// The encoding of a `c1.connector.v2.GrantSources` holding `sources` (keys sorted, no
/// duplicates), byte for byte what prost writes for the same map: one entry per key, the key
/// left out when empty and the value when it is the default (`is_direct` false).
pub(crate) fn encode_sources(sources: &[(&str, bool)], out: &mut Vec<u8>) {
    // GrantSources.sources = 1 (map entry: key = 1, value = 2); GrantSource.is_direct = 1.
    for &(key, direct) in sources {
        let key_len = if key.is_empty() {
            0
        } else {
            1 + prost::encoding::encoded_len_varint(key.len() as u64) + key.len()
        };
        let value_len = if direct { 4 } else { 0 };
        encode_key(1, WireType::LengthDelimited, out);
        encode_varint((key_len + value_len) as u64, out);
        if !key.is_empty() {
            put_len_field(out, 1, key.as_bytes());
        }
        if direct {
            out.extend_from_slice(&[0x12, 0x02, 0x08, 0x01]);
        }
    }
}

/// A derived grant (R15) into `out` (cleared first): the destination entitlement's record
/// and the holder's principal message embedded as given, the derived id, exactly one
/// GrantImmutable annotation with an empty value, and `sources` (keys sorted, no
/// duplicates). Fields in number order. `scratch` holds the encoded sources meanwhile.
pub(crate) fn derived_grant(
    entitlement: &[u8],
    principal: &[u8],
    id: &str,
    sources: &[(&str, bool)],
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) {
    scratch.clear();
    encode_sources(sources, scratch);
    out.clear();
    put_len_field(out, ENTITLEMENT, entitlement);
    put_len_field(out, PRINCIPAL, principal);
    put_len_field(out, ID, id.as_bytes());
    // The annotation: an Any whose type_url (1) is GrantImmutable's and whose value is empty.
    let url = GRANT_IMMUTABLE_URL.as_bytes();
    encode_key(ANNOTATIONS, WireType::LengthDelimited, out);
    encode_varint(
        (1 + prost::encoding::encoded_len_varint(url.len() as u64) + url.len()) as u64,
        out,
    );
    put_len_field(out, 1, url);
    put_len_field(out, SOURCES, scratch);
}

/// A grant blob with its GrantExpandable moved out (R2).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Moved {
    /// The blob without any GrantExpandable annotation.
    pub(crate) data: Vec<u8>,
    /// The GrantExpandable message, for the `expansion` column.
    pub(crate) expansion: Vec<u8>,
}

/// The R2 backfill of one grant blob: when its first GrantExpandable annotation decodes and
/// lists at least one non-blank entitlement id, the blob without any GrantExpandable
/// annotation and the GrantExpandable bytes. Otherwise `None`: the blob stays as it is.
pub(crate) fn take_expandable(data: &[u8]) -> Result<Option<Moved>, WireError> {
    let mut first: Option<Option<pb::GrantExpandable>> = None;
    for f in fields(data) {
        let f = f?;
        if let (ANNOTATIONS, Some(p), None) = (f.number, f.payload, &first)
            && let Ok(a) = prost_types::Any::decode(p)
            && any::is::<pb::GrantExpandable>(&a)
        {
            first = Some(pb::GrantExpandable::decode(a.value.as_slice()).ok());
        }
    }
    let Some(Some(ge)) = first else {
        return Ok(None);
    };
    if !ge.entitlement_ids.iter().any(|id| !id.trim().is_empty()) {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(data.len());
    for f in fields(data) {
        let f = f?;
        if f.number == ANNOTATIONS && f.payload.is_some_and(is_expandable_any) {
            continue;
        }
        out.extend_from_slice(f.raw);
    }
    Ok(Some(Moved {
        data: out,
        expansion: ge.encode_to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::any::{grant_expandable, pack, v1_identifier};
    use crate::model::build::{entitlement_ref, grant, rid, stub};

    fn sample(annotations: Vec<prost_types::Any>) -> pb::Grant {
        grant(
            "g1".into(),
            entitlement_ref("group:g:member", stub(rid("group", "g"), "G")),
            rid("iam_user", "alice"),
            annotations,
        )
    }

    fn sources(keys: &[(&str, bool)]) -> pb::GrantSources {
        pb::GrantSources {
            sources: keys
                .iter()
                .map(|(k, d)| {
                    (
                        k.to_string(),
                        pb::grant_sources::GrantSource { is_direct: *d },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn reads_principal_and_sources() {
        let mut g = sample(vec![]);
        let data = g.encode_to_vec();
        let parts = grant_parts(&data).unwrap();
        assert_eq!(
            parts.principal.unwrap().as_ref(),
            g.principal.as_ref().unwrap().encode_to_vec()
        );
        assert!(parts.sources.is_none());
        g.sources = Some(sources(&[("a", true), ("b", false)]));
        let data = g.encode_to_vec();
        let parts = grant_parts(&data).unwrap();
        assert_eq!(parts.sources, g.sources);
        assert!(grant_parts(&[0x0a, 0x05, 1]).is_err(), "truncated field");
    }

    #[test]
    fn rewrite_keeps_everything_but_sources_and_expandable() {
        let mut g = sample(vec![
            v1_identifier("v"),
            grant_expandable("group:g:member", true),
            pack(&pb::GrantImmutable::default()),
        ]);
        g.sources = Some(sources(&[("old", false)]));
        let mut data = g.encode_to_vec();
        // An unknown field (number 9) must survive.
        data.extend_from_slice(&[0x4a, 0x01, b'z']);
        let new = sources(&[("group:g:member", true), ("x", false)]);
        let out = with_sources(&data, &new).unwrap();
        let back = pb::Grant::decode(out.as_slice()).unwrap();
        let mut want = g.clone();
        want.annotations.remove(1);
        want.sources = Some(new.clone());
        assert_eq!(back, want);
        // Sources (5) are placed before the unknown field (9), which stays last.
        assert!(out.ends_with(&[0x4a, 0x01, b'z']));
        // Without unknown fields the output is what prost would write.
        let plain = with_sources(&g.encode_to_vec(), &new).unwrap();
        assert_eq!(plain, want.encode_to_vec());
    }

    #[test]
    fn derived_grant_layout() {
        let ent = entitlement_ref("role:r:assignment", stub(rid("role", "r"), "R")).encode_to_vec();
        let principal = pb::Resource {
            id: Some(rid("iam_user", "bob")),
            display_name: "Bob".into(),
            ..Default::default()
        };
        let s = sources(&[("role:b:assignment", true)]);
        let (mut out, mut scratch) = (vec![9], vec![9]);
        derived_grant(
            &ent,
            &principal.encode_to_vec(),
            "role:r:assignment:iam_user:bob",
            &[("role:b:assignment", true)],
            &mut out,
            &mut scratch,
        );
        let g = pb::Grant::decode(out.as_slice()).unwrap();
        assert_eq!(g.entitlement.unwrap().encode_to_vec(), ent);
        assert_eq!(g.principal, Some(principal));
        assert_eq!(g.id, "role:r:assignment:iam_user:bob");
        assert_eq!(g.annotations.len(), 1);
        assert_eq!(g.annotations[0].type_url, GRANT_IMMUTABLE_URL);
        assert!(g.annotations[0].value.is_empty());
        assert_eq!(g.sources, Some(s));
        // Same bytes as prost's encoding of the same message.
        assert_eq!(
            out,
            pb::Grant::decode(out.as_slice()).unwrap().encode_to_vec()
        );
    }

    #[test]
    fn sources_encode_as_prost_does() {
        let cases: &[&[(&str, bool)]] = &[
            &[],
            &[("a", true)],
            &[("a", false)],
            &[("", true), ("b", false)],
            &[("", false)],
            &[("group:g:member", true), ("role:r:assignment", false)],
        ];
        let long = "k".repeat(300);
        let long_case = [(long.as_str(), true), ("l", true)];
        for case in cases.iter().copied().chain([&long_case[..]]) {
            let mut out = vec![];
            encode_sources(case, &mut out);
            assert_eq!(out, sources(case).encode_to_vec(), "{case:?}");
        }
    }

    #[test]
    fn take_expandable_moves_valid_ge_only() {
        let g = sample(vec![
            v1_identifier("v"),
            grant_expandable("group:g:member", false),
            grant_expandable("second", true),
        ]);
        let Moved { data, expansion } = take_expandable(&g.encode_to_vec()).unwrap().unwrap();
        let back = pb::Grant::decode(data.as_slice()).unwrap();
        assert_eq!(back.annotations, vec![v1_identifier("v")]);
        let ge = pb::GrantExpandable::decode(expansion.as_slice()).unwrap();
        assert_eq!(ge.entitlement_ids, vec!["group:g:member".to_string()]);
        assert!(!ge.shallow, "the first GrantExpandable is the one kept");

        let blank = sample(vec![pack(&pb::GrantExpandable {
            entitlement_ids: vec![" ".into(), "".into()],
            ..Default::default()
        })]);
        assert_eq!(take_expandable(&blank.encode_to_vec()).unwrap(), None);
        assert_eq!(
            take_expandable(&sample(vec![]).encode_to_vec()).unwrap(),
            None
        );
    }
}

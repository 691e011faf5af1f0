//! Interning for expansion: each distinct string (entitlement id, principal type, principal
//! id) or byte string (a principal message) is stored once in one arena and named by a dense
//! `u32`. Also the small fast hasher used for the `u64`-keyed maps of the engine. Owns no
//! expansion rule.

use std::hash::{BuildHasherDefault, Hasher};

const EMPTY: u32 = u32::MAX;

/// A set of byte strings, each stored once, numbered 0, 1, 2, … in insertion order.
///
/// Memory: the bytes themselves, 8 bytes of span per entry and about 8 bytes of open-
/// addressing table per entry; no allocation per entry.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    arena: Vec<u8>,
    spans: Vec<(u32, u32)>,
    table: Vec<u32>,
}

impl Interner {
    pub(crate) fn new() -> Self {
        Interner::default()
    }

    /// Number of distinct entries.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The entry `id`.
    pub(crate) fn bytes(&self, id: u32) -> &[u8] {
        let (start, len) = self.spans[id as usize];
        &self.arena[start as usize..(start + len) as usize]
    }

    /// The entry `id` as text. Entries added with [`Interner::intern`] are valid UTF-8.
    pub(crate) fn str(&self, id: u32) -> &str {
        std::str::from_utf8(self.bytes(id)).expect("entry interned from a &str")
    }

    /// The id of `s`, adding it if new.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        self.intern_bytes(s.as_bytes())
    }

    /// The id of `s`, if present.
    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        self.get_bytes(s.as_bytes())
    }

    pub(crate) fn get_bytes(&self, b: &[u8]) -> Option<u32> {
        if self.table.is_empty() {
            return None;
        }
        let mask = self.table.len() - 1;
        let mut slot = (hash_bytes(b) as usize) & mask;
        loop {
            match self.table[slot] {
                EMPTY => return None,
                id if self.bytes(id) == b => return Some(id),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    pub(crate) fn intern_bytes(&mut self, b: &[u8]) -> u32 {
        if let Some(id) = self.get_bytes(b) {
            return id;
        }
        // Keep the load factor at or below 1/2.
        if (self.spans.len() + 1) * 2 > self.table.len() {
            self.grow();
        }
        let id = u32::try_from(self.spans.len()).expect("fewer than 2^32 interned strings");
        let start = u32::try_from(self.arena.len()).expect("interned text below 4 GiB");
        let len = u32::try_from(b.len()).expect("interned string below 4 GiB");
        self.arena.extend_from_slice(b);
        self.spans.push((start, len));
        self.place(id);
        id
    }

    fn place(&mut self, id: u32) {
        let mask = self.table.len() - 1;
        let mut slot = (hash_bytes(self.bytes(id)) as usize) & mask;
        while self.table[slot] != EMPTY {
            slot = (slot + 1) & mask;
        }
        self.table[slot] = id;
    }

    fn grow(&mut self) {
        let size = (self.table.len() * 2).max(64);
        self.table = vec![EMPTY; size];
        for id in 0..self.spans.len() as u32 {
            self.place(id);
        }
    }
}

/// fmix64 of MurmurHash3: spreads every input bit over the whole word.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A word-at-a-time hash of a byte string, finished with [`mix`].
fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(29) ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    let mut tail = [0u8; 8];
    let rest = chunks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    h = (h.rotate_left(29) ^ u64::from_le_bytes(tail)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    mix(h)
}

/// Hasher for maps keyed by integers built from interned ids (not for untrusted keys: it is
/// fast, not collision-resistant, and the keys here come from our own numbering).
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        mix(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(bytes) ^ self.0.rotate_left(7);
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = self.0.rotate_left(32) ^ u64::from(n);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(32) ^ n;
    }
}

pub(crate) type IdMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once_and_numbers_densely() {
        let mut i = Interner::new();
        let a = i.intern("group:g:member");
        let b = i.intern("role:r:assignment");
        assert_eq!((a, b), (0, 1));
        assert_eq!(i.intern("group:g:member"), a);
        assert_eq!(i.get("role:r:assignment"), Some(b));
        assert_eq!(i.get("absent"), None);
        assert_eq!(i.str(b), "role:r:assignment");
        // Empty string is a value like any other.
        let e = i.intern("");
        assert_eq!(i.get(""), Some(e));
        assert_eq!(i.len(), 3);
    }

    #[test]
    fn survives_growth() {
        let mut i = Interner::new();
        for n in 0..10_000u32 {
            assert_eq!(i.intern(&format!("e{n}")), n);
        }
        for n in 0..10_000u32 {
            assert_eq!(i.get(&format!("e{n}")), Some(n));
        }
        assert_eq!(i.get("e10000"), None);
    }
}

//! A kind's objects in the cell's state, with their `(namespace, name)`
//! index: every named kind keeps one, so a new kind is one field of `State`
//! (not a map, an index, its upkeep and a `by_name` of its own).

use std::collections::HashMap;
use std::hash::Hash;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::IdMap;
use crate::names::Name;

/// An object with a namespace and a name, unique per kind.
pub trait Named {
    fn namespace(&self) -> &Name;
    fn name(&self) -> &Name;
}

/// Reads go through `Deref` to the map; writes through `insert` and
/// `remove`, which keep the name index (a `get_mut` must not rename).
#[derive(Debug, Clone)]
pub struct Store<K, V> {
    items: IdMap<K, V>,
    names: HashMap<(String, String), K>,
}

impl<K, V> Default for Store<K, V> {
    fn default() -> Self {
        Store {
            items: IdMap::default(),
            names: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Copy, V: Named> Store<K, V> {
    pub fn insert(&mut self, id: K, v: V) -> Option<V> {
        self.names
            .insert((v.namespace().to_string(), v.name().to_string()), id);
        self.items.insert(id, v)
    }

    pub fn remove(&mut self, id: &K) -> Option<V> {
        let v = self.items.remove(id)?;
        self.names
            .remove(&(v.namespace().to_string(), v.name().to_string()));
        Some(v)
    }

    pub fn get_mut(&mut self, id: &K) -> Option<&mut V> {
        self.items.get_mut(id)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.items.values_mut()
    }

    pub fn by_name(&self, namespace: &str, name: &str) -> Option<&V> {
        self.names
            .get(&(namespace.to_string(), name.to_string()))
            .and_then(|id| self.items.get(id))
    }

    /// After deserializing: the index is not stored.
    pub fn rebuild_names(&mut self) {
        self.names = self
            .items
            .iter()
            .map(|(id, v)| ((v.namespace().to_string(), v.name().to_string()), *id))
            .collect();
    }
}

impl<K, V> Deref for Store<K, V> {
    type Target = IdMap<K, V>;
    fn deref(&self) -> &IdMap<K, V> {
        &self.items
    }
}

impl<K: PartialEq + Eq + Hash, V: PartialEq> PartialEq for Store<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

/// Stored as the map alone (the shape snapshots had before the index moved here).
impl<K: Serialize + Eq + Hash, V: Serialize> Serialize for Store<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(s)
    }
}

impl<'de, K: Deserialize<'de> + Eq + Hash, V: Deserialize<'de>> Deserialize<'de> for Store<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Store {
            items: IdMap::deserialize(d)?,
            names: HashMap::new(),
        })
    }
}

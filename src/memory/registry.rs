//! Named stores shared by every `MemoryProvider({ shared })` in the process,
//! whichever worker thread opens them.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;

use super::store::Store;
use crate::error::{DsError, DsResult};
use crate::validate::PartitionKeyPath;

/// A named store lives as long as the process, like a named in-memory
/// database: a worker that opens it, writes and exits must not take the data
/// with it.
static SHARED: LazyLock<Mutex<HashMap<String, Arc<Store>>>> = LazyLock::new(Default::default);

/// Opens (or creates) the store named `name`. Every opener must agree on the
/// partition key path.
pub fn open_shared(name: &str, pk: PartitionKeyPath) -> DsResult<Arc<Store>> {
    check_name(name)?;
    let mut stores = SHARED.lock();
    if let Some(store) = stores.get(name) {
        if store.partition_key() != &pk {
            return Err(DsError::invalid(format!(
                "shared store {name:?} was opened with partitionKeyPath {:?}, not {:?}",
                store.partition_key().path(),
                pk.path()
            )));
        }
        return Ok(Arc::clone(store));
    }
    let store = Arc::new(Store::new(pk));
    stores.insert(name.to_owned(), Arc::clone(&store));
    Ok(store)
}

/// Forgets the store named `name`; its open handles keep it alive. `true`
/// when there was one. A name no store can have is refused, as on open.
pub fn drop_shared(name: &str) -> DsResult<bool> {
    check_name(name)?;
    Ok(SHARED.lock().remove(name).is_some())
}

fn check_name(name: &str) -> DsResult<()> {
    if name.is_empty() {
        return Err(DsError::invalid(
            "shared store name must be a non-empty string",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_name_same_store_and_pk_must_agree() {
        let pk = || PartitionKeyPath::parse("/t").unwrap();
        let a = open_shared("registry-test", pk()).unwrap();
        let b = open_shared("registry-test", pk()).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let other = PartitionKeyPath::parse("/u").unwrap();
        assert!(open_shared("registry-test", other).is_err());
        assert!(open_shared("", pk()).is_err());
    }

    #[test]
    fn a_dropped_store_outlives_its_handles_and_the_name_starts_over() {
        let pk = || PartitionKeyPath::parse("/t").unwrap();
        let a = open_shared("registry-drop", pk()).unwrap();
        a.create(r#"{"id":"x","t":"p"}"#).unwrap();
        assert!(drop_shared("registry-drop").unwrap());
        assert!(!drop_shared("registry-drop").unwrap());
        assert!(drop_shared("").is_err());
        assert!(
            a.get("x", "\"p\"").unwrap().is_some(),
            "old handle keeps its data"
        );
        let b = open_shared("registry-drop", pk()).unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(b.get("x", "\"p\"").unwrap().is_none());
    }
}

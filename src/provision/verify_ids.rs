//! `--file sync.c1z`: before any AWS call, checks that the IDs a request names exist in a c1z a
//! sync wrote (the entitlement and the principal of a grant, the grant of a revoke, the resource
//! of a deletion), and takes from it what the ID alone does not say (the group, hence identity
//! store and region, of an Identity Center membership id). Not here: parsing the IDs.

use std::path::Path;

use crate::model::ids::EntitlementRef;
use crate::model::{any, pb};
use crate::store::c1z::{C1zReader, Filter};

use super::outcome::ProvisionError;
use super::request::{Change, Request, SsoKind, SsoPrincipal};

/// An opened c1z to check against.
pub struct SyncFile {
    reader: C1zReader,
    name: String,
}

fn not_in(what: String, file: &str) -> ProvisionError {
    ProvisionError::NotInFile(format!(
        "{what} is not in {file}; check the ID, or sync again if it is new"
    ))
}

impl SyncFile {
    pub fn open(path: &Path) -> Result<SyncFile, ProvisionError> {
        let reader = C1zReader::open(path).map_err(|e| {
            ProvisionError::NotInFile(format!("cannot read {}: {e}", path.display()))
        })?;
        Ok(SyncFile {
            reader,
            name: path.display().to_string(),
        })
    }

    fn store_err(&self, e: impl std::fmt::Display) -> ProvisionError {
        ProvisionError::NotInFile(format!("cannot read {}: {e}", self.name))
    }

    /// The entitlement and the principal of a grant exist.
    pub fn check_grant(
        &self,
        entitlement: &str,
        principal_type: &str,
        principal: &str,
    ) -> Result<(), ProvisionError> {
        let ents = self
            .reader
            .entitlements(&Filter {
                entitlement: Some(entitlement.to_string()),
                ..Default::default()
            })
            .map_err(|e| self.store_err(e))?;
        // A sync writes an AWS-managed policy only once something in the account holds it, but
        // every account has every AWS-managed policy: granting one nobody holds yet is normal.
        let aws_managed = EntitlementRef::parse(entitlement).is_ok_and(|e| {
            matches!(e, EntitlementRef::PolicyAttached { ref policy } if policy.account == "aws")
        });
        if ents.is_empty() && !aws_managed {
            return Err(not_in(format!("entitlement '{entitlement}'"), &self.name));
        }
        self.check_resource(principal_type, principal)
    }

    /// The resource exists.
    pub fn check_resource(&self, resource_type: &str, id: &str) -> Result<(), ProvisionError> {
        match self
            .reader
            .resource(resource_type, id)
            .map_err(|e| self.store_err(e))?
        {
            Some(_) => Ok(()),
            None => Err(not_in(format!("{resource_type} '{id}'"), &self.name)),
        }
    }

    /// The grant exists; a membership-id revoke learns its group from it.
    pub fn check_revoke(&self, grant_id: &str, req: &mut Request) -> Result<(), ProvisionError> {
        let g = self
            .reader
            .grant(grant_id)
            .map_err(|e| self.store_err(e))?
            .ok_or_else(|| not_in(format!("grant '{grant_id}'"), &self.name))?;
        if any::find::<pb::GrantImmutable>(&g.annotations).is_some() {
            // Grant expansion wrote it: AWS holds no such access of its own to remove.
            let through: Vec<&str> = g
                .sources
                .iter()
                .flat_map(|s| s.sources.keys())
                .map(String::as_str)
                .collect();
            return Err(ProvisionError::NotInFile(format!(
                "grant '{grant_id}' in {} is derived by grant expansion (through {}): AWS holds no such grant of its own; revoke the grant it comes from",
                self.name,
                if through.is_empty() {
                    "no recorded source".to_string()
                } else {
                    through.join(", ")
                }
            )));
        }
        if let Change::SsoMembership { group, .. } = &mut req.change {
            let ent = g.entitlement.map(|e| e.id).unwrap_or_default();
            if let Ok(EntitlementRef::SsoGroupMember { group: store, arn }) =
                EntitlementRef::parse(&ent)
            {
                *group = Some(SsoPrincipal {
                    kind: SsoKind::Group,
                    store,
                    arn,
                });
            }
        }
        Ok(())
    }
}

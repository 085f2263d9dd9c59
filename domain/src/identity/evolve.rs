//! Folding the identity slice's events into the cell's state.

use crate::event as ev;
use crate::state::State;

use super::{Token, User, service_account_key};

impl State {
    pub(crate) fn on_user_created(&mut self, e: &ev::UserCreated) {
        self.bump_policy_version(e.user_id);
        self.identities.users.insert(
            e.name.to_string(),
            User {
                name: e.name.clone(),
                groups: e.groups.clone(),
            },
        );
    }

    pub(crate) fn on_user_groups_changed(&mut self, e: &ev::UserGroupsChanged) {
        self.bump_policy_version(e.user_id);
        if let Some(u) = self.identities.users.get_mut(e.name.as_str()) {
            u.groups = e.groups.clone();
        }
    }

    pub(crate) fn on_user_deleted(&mut self, e: &ev::UserDeleted) {
        self.bump_policy_version(e.user_id);
        self.identities.users.remove(e.name.as_str());
    }

    pub(crate) fn on_service_account_created(&mut self, e: &ev::ServiceAccountCreated) {
        self.bump_policy_version(e.service_account_id);
        self.identities
            .service_accounts
            .insert(service_account_key(&e.namespace, &e.name));
    }

    pub(crate) fn on_service_account_deleted(&mut self, e: &ev::ServiceAccountDeleted) {
        self.bump_policy_version(e.service_account_id);
        self.identities
            .service_accounts
            .remove(&service_account_key(&e.namespace, &e.name));
    }

    pub(crate) fn on_token_issued(&mut self, e: &ev::TokenIssued) {
        self.bump_policy_version(e.token_id);
        self.identities.tokens.insert(
            e.digest.clone(),
            Token {
                token_id: e.token_id,
                subject: e.subject.clone(),
                expires_at: e.expires_at,
                bootstrap: e.bootstrap,
                revoked: false,
            },
        );
    }

    pub(crate) fn on_token_revoked(&mut self, e: &ev::TokenRevoked) {
        self.bump_policy_version(e.token_id);
        if let Some(t) = self.identities.tokens.get_mut(&e.digest) {
            t.revoked = true;
        }
    }
}

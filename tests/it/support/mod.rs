//! Helpers shared by the integration tests.

pub mod ferry;
pub mod hosts;

impl hosts::Host {
    /// An SSH target for this host with the testbed's key and known_hosts.
    pub fn ssh_target(&self) -> ::ferry::transport::ssh::SshTarget {
        ::ferry::transport::ssh::SshTarget {
            key: Some(self.key.clone()),
            known_hosts: Some(self.known_hosts.clone()),
            port: self.port,
            ..::ferry::transport::ssh::SshTarget::new(&self.name, &self.address, &self.user)
        }
    }
}

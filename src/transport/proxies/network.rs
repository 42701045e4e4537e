//! Trusted networks in CIDR notation, matched against peer and hop addresses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::SETTING;
use crate::ConfigError;

/// The accepted forms, for configuration errors.
const NETWORK_FORM: &str =
    "an address or a network such as 192.168.1.7, 10.0.0.0/8, ::1 or fd00::/8";

/// A trusted network. IPv4-mapped IPv6 networks are stored as IPv4, and addresses are
/// canonicalised before matching, so each IPv4 address has one form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Network {
    /// An IPv4 network: its first address, as bits, and a prefix length of at most 32.
    V4 { base: u32, prefix: u8 },
    /// An IPv6 network: its first address, as bits, and a prefix length of at most 128.
    V6 { base: u128, prefix: u8 },
}

impl Network {
    /// Reads `address` or `address/prefix`, refusing what [`TrustedProxies`] documents.
    ///
    /// [`TrustedProxies`]: super::TrustedProxies
    pub(super) fn parse(entry: &str) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::invalid(SETTING, entry, NETWORK_FORM);
        let (address, prefix) = match entry.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (entry, None),
        };
        let address: IpAddr = address.parse().map_err(|_| invalid())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                digits
                    .parse::<u8>()
                    .ok()
                    .filter(|&p| p <= max)
                    .ok_or_else(invalid)?
            }
            Some(_) => return Err(invalid()),
        };

        let network = match address {
            IpAddr::V4(v4) => Self::V4 {
                base: v4.to_bits(),
                prefix,
            },
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                // `::ffff:0:0/96` is where IPv4-mapped addresses live (RFC 4291 §2.5.5.2).
                Some(v4) if prefix >= 96 => Self::V4 {
                    base: v4.to_bits(),
                    prefix: prefix - 96,
                },
                _ => Self::V6 {
                    base: v6.to_bits(),
                    prefix,
                },
            },
        };
        if network.base_has_host_bits() {
            return Err(ConfigError::invalid(
                SETTING,
                entry,
                "a network address with no bits set after the prefix, such as 10.0.0.0/8",
            ));
        }
        // A shorter IPv6 prefix that holds one mapped address holds all of them.
        let holds_all_ipv4 = network.contains_v6(Ipv4Addr::UNSPECIFIED.to_ipv6_mapped());
        if network.prefix() == 0 || holds_all_ipv4 {
            return Err(ConfigError::invalid(
                SETTING,
                entry,
                "a specific network; trusting every address lets any client forge its address",
            ));
        }
        Ok(network)
    }

    /// The prefix length.
    fn prefix(self) -> u8 {
        match self {
            Self::V4 { prefix, .. } | Self::V6 { prefix, .. } => prefix,
        }
    }

    /// Whether the first address has bits set after the prefix, so names no network.
    fn base_has_host_bits(self) -> bool {
        match self {
            Self::V4 { base, prefix } => base & !mask_v4(prefix) != 0,
            Self::V6 { base, prefix } => base & !mask_v6(prefix) != 0,
        }
    }

    /// Whether the network holds `ip`, which must be canonical: an IPv4 network never holds
    /// an IPv6 address, and no IPv6 network holds an IPv4-mapped one.
    pub(super) fn contains(self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Self::V4 { base, prefix }, IpAddr::V4(ip)) => ip.to_bits() & mask_v4(prefix) == base,
            (Self::V6 { .. }, IpAddr::V6(ip)) => self.contains_v6(ip),
            _ => false,
        }
    }

    /// Whether an IPv6 network holds `ip`, IPv4-mapped or not.
    fn contains_v6(self, ip: Ipv6Addr) -> bool {
        match self {
            Self::V6 { base, prefix } => ip.to_bits() & mask_v6(prefix) == base,
            Self::V4 { .. } => false,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::V4 { base, prefix } => write!(f, "{}/{prefix}", Ipv4Addr::from_bits(base)),
            Self::V6 { base, prefix } => write!(f, "{}/{prefix}", Ipv6Addr::from_bits(base)),
        }
    }
}

/// The netmask of an IPv4 prefix of at most 32 bits.
fn mask_v4(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32_u32.saturating_sub(prefix.into()))
        .unwrap_or(0)
}

/// The netmask of an IPv6 prefix of at most 128 bits.
fn mask_v6(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128_u32.saturating_sub(prefix.into()))
        .unwrap_or(0)
}
